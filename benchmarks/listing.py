"""Benchmark 3: listing N task instances, this client's lazy iteration vs saltant-py 0.4.0.

One no-worker local server, seeded over its HTTP API (concurrent POSTs) up to each N in turn
(1,000, then 3,000, then 10,000 instances). At each N every variant runs in fresh processes:
``REPEATS`` timed runs (wall time, peak RSS growth during the listing) and one tracemalloc run.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from benchmarks.processes import run_json
from benchmarks.results import median, pyplot, write_json
from benchmarks.saltant_server import bench_server, create_instances

VARIANTS = {
    "ours": "saltant_provider Client: executable_task_instances.iter() (default page size)",
    "ours-1000": "saltant_provider Client: executable_task_instances.iter(page_size=1000)",
    "saltant-py": "saltant-py 0.4.0: executable_task_instances.list() (one unbounded request)",
}
REPEATS = 5


def _measure(variant: str, env: dict[str, str], n: int, repeats: int) -> dict[str, Any]:
    timed = [run_json(["-m", "benchmarks.list_probe", variant], env) for _ in range(repeats)]
    traced = run_json(["-m", "benchmarks.list_probe", variant, "--trace"], env)
    seen = {r["seen"] for r in timed} | {traced["seen"]}
    if seen != {n}:
        raise RuntimeError(f"{variant} saw {sorted(seen)} instances, expected {n}")
    return {
        "variant": variant, "n": n,
        "wall_s_median": median([r["wall_s"] for r in timed]),
        "wall_s_all": [round(r["wall_s"], 4) for r in timed],
        "peak_rss_growth_mib_median": median([r["peak_rss_growth_mib"] for r in timed]),
        "tracemalloc_peak_mib": traced["tracemalloc_peak_mib"],
        "peak_reset_supported": all(r["peak_reset"] for r in timed),
    }


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    styles = {"ours": ("tab:blue", "o-"), "ours-1000": ("tab:green", "^-"),
              "saltant-py": ("tab:gray", "s--")}
    for variant, (color, style) in styles.items():
        mine = [r for r in rows if r["variant"] == variant]
        ns = [r["n"] for r in mine]
        for ax, key in zip(axes, ("wall_s_median", "peak_rss_growth_mib_median",
                                  "tracemalloc_peak_mib"), strict=True):
            ax.plot(ns, [r[key] for r in mine], style, color=color, label=variant)
    labels = ("wall time (s, median)", "peak RSS growth while listing (MiB)",
              "tracemalloc peak while listing (MiB)")
    for ax, label in zip(axes, labels, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("task instances listed (N)")
        ax.set_title(label, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(ns: list[int], repeats: int = REPEATS) -> dict[str, Any]:
    from benchmarks.machine import machine_info, machine_line
    from benchmarks.results import results_dir

    rows: list[dict[str, Any]] = []
    with bench_server() as bench:
        env = dict(os.environ, SALTANT_API_URL=bench.url, SALTANT_AUTH_TOKEN=bench.token)
        created = 0
        for n in sorted(ns):
            asyncio.run(create_instances(bench, n - created, prefix=f"list-{n}"))
            created = n
            for variant in VARIANTS:
                print(f"[bench] listing: N={n}, {variant}", flush=True)
                rows.append(_measure(variant, env, n, repeats))
                r = rows[-1]
                print(f"[bench]   {r['wall_s_median']:.3f}s, peak RSS +"
                      f"{r['peak_rss_growth_mib_median']:.1f} MiB, tracemalloc "
                      f"{r['tracemalloc_peak_mib']:.1f} MiB", flush=True)
    payload = {"parameters": {"ns": sorted(ns), "repeats": repeats, "variants": VARIANTS},
               "rows": rows}
    path = write_json("listing", payload)
    _plot(rows, results_dir() / "listing.png",
          f"listing task instances from the local server - {machine_line(machine_info())}")
    print(f"[bench] wrote {path}", flush=True)
    return payload
