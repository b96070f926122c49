"""``python -m benchmarks [waits|imports|listing ...] [--quick]``: run benchmarks, write results.

With no names, runs all three. Each writes ``benchmarks/results/<name>.json`` and ``<name>.png``;
then ``results/summary.md`` is rewritten from every result present.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks import imports, listing, waits
from benchmarks.results import use_results_dir
from benchmarks.summary import write_summary

NAMES = ("waits", "imports", "listing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*NAMES, []], metavar="NAME",
                        help=f"benchmarks to run: {', '.join(NAMES)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer repetitions (a smoke run; not for results)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write results here instead of benchmarks/results/ (default for "
                             "--quick: a temporary directory, so committed results stay)")
    parser.add_argument("--poll-interval", type=float, default=2.0,
                        help="poll interval of the wait benchmark (seconds)")
    args = parser.parse_args(argv)
    names = args.names or list(NAMES)
    out = args.out or (Path(tempfile.gettempdir()) / "saltant-bench-quick" if args.quick else None)
    if out is not None:
        use_results_dir(out.resolve())
        print(f"[bench] results go to {out}", flush=True)
    started = time.monotonic()
    if "waits" in names:
        waits.run([10, 100] if args.quick else [10, 100, 1000], args.poll_interval,
                  quiet_polls=3 if args.quick else 5, finish_polls=3 if args.quick else 5)
    if "imports" in names:
        imports.run(3 if args.quick else 15)
    if "listing" in names:
        listing.run([1000, 3000] if args.quick else [1000, 3000, 10000],
                    repeats=1 if args.quick else listing.REPEATS)
    print(write_summary())
    print(f"[bench] done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
