"""One listing measurement in a fresh process (run by ``benchmarks.listing``).

    SALTANT_API_URL=... SALTANT_AUTH_TOKEN=... python -m benchmarks.list_probe VARIANT [--trace]

VARIANT: ``ours`` (``Client.executable_task_instances.iter()``, default page size),
``ours-1000`` (``iter(page_size=1000)``) or ``saltant-py`` (saltant-py 0.4.0's ``list()``: one
request for everything). Prints one JSON line: instances seen, wall seconds, and the peak RSS
growth during the listing (the peak is reset just before it through ``/proc/self/clear_refs``;
``ru_maxrss`` where that is unavailable). With ``--trace``, the tracemalloc peak instead (slower:
its wall time is not reported).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _lister(variant: str, url: str, token: str) -> Callable[[], int]:
    if variant == "saltant-py":
        from saltant.client import Client as SaltantPyClient

        legacy = SaltantPyClient(url, token, test_if_authenticated=False)
        return lambda: len(legacy.executable_task_instances.list())

    from saltant_provider.client import Client

    client = Client(url, token, test_if_authenticated=False)
    page_size = {"ours": None, "ours-1000": 1000}[variant]

    def count() -> int:
        manager = client.executable_task_instances
        items = manager.iter() if page_size is None else manager.iter(page_size=page_size)
        return sum(1 for _ in items)

    return count


def main(variant: str, trace: bool) -> dict[str, float | int | bool]:
    url, token = os.environ["SALTANT_API_URL"], os.environ["SALTANT_AUTH_TOKEN"]
    listing = _lister(variant, url, token)
    if trace:
        tracemalloc.start()
        seen = listing()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"seen": seen, "tracemalloc_peak_mib": peak / 1024**2}
    reset = _reset_peak()
    rss0 = _status_kib("VmRSS")
    peak0 = _maxrss_kib()
    start = time.perf_counter()
    seen = listing()
    wall = time.perf_counter() - start
    peak = _status_kib("VmHWM") if reset else _maxrss_kib()
    return {
        "seen": seen,
        "wall_s": wall,
        "peak_rss_growth_mib": (peak - (rss0 if reset else peak0)) / 1024,
        "peak_reset": reset,
        "rss_before_mib": rss0 / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], "--trace" in sys.argv[2:])))
