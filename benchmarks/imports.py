"""Benchmark 2: what importing each public module adds over ``import airflow.sdk``.

Each repetition is a fresh ``python -m benchmarks.import_probe MODULE`` process (so nothing is
cached in ``sys.modules``); the modules are interleaved round-robin so that a noisy moment of
the machine spreads over all of them. The dbt Cloud operator (an official provider of the same
kind: an operator that starts a remote job and waits, deferrable) is measured in the same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.processes import airflow_env, run_json, scratch_dir
from benchmarks.results import median, pyplot, write_json

PUBLIC_MODULES = [
    "saltant_provider.hooks.saltant",
    "saltant_provider.operators.saltant",
    "saltant_provider.sensors.saltant",
    "saltant_provider.triggers.saltant",
    "saltant_provider.links.saltant",
    "saltant_provider.client",
]
REFERENCE_MODULE = "airflow.providers.dbt.cloud.operators.dbt"
TARGET_MS = 30.0


def _summary(module: str, runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "module": module,
        "runs": len(runs),
        "added_ms_median": median([r["added_s"] * 1000 for r in runs]),
        "added_ms_min": min(r["added_s"] for r in runs) * 1000,
        "added_ms_max": max(r["added_s"] for r in runs) * 1000,
        "added_peak_rss_mib_median": median([r["added_peak_kib"] / 1024 for r in runs]),
        "added_rss_mib_median": median([r["added_rss_kib"] / 1024 for r in runs]),
        "airflow_sdk_ms_median": median([r["base_s"] * 1000 for r in runs]),
        "airflow_sdk_peak_rss_mib_median": median([r["base_peak_kib"] / 1024 for r in runs]),
        "modules_loaded_median": median([r["modules_added"] for r in runs]),
        "added_ms_all": [round(r["added_s"] * 1000, 2) for r in runs],
    }


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    names = [r["module"].replace("saltant_provider.", "").replace(
        "airflow.providers.dbt.cloud.operators.dbt", "dbt Cloud operator") for r in rows]
    colors = ["tab:gray" if r["module"] == REFERENCE_MODULE else "tab:blue" for r in rows]
    y = range(len(rows))
    axes[0].barh(y, [r["added_ms_median"] for r in rows], color=colors)
    axes[0].errorbar([r["added_ms_median"] for r in rows], y,
                     xerr=[[r["added_ms_median"] - r["added_ms_min"] for r in rows],
                           [r["added_ms_max"] - r["added_ms_median"] for r in rows]],
                     fmt="none", ecolor="black", capsize=3, lw=0.8)
    axes[0].axvline(TARGET_MS, color="red", ls=":", label=f"target {TARGET_MS:g} ms")
    axes[0].set_xlabel("added import time over airflow.sdk (ms, median; bars: min-max)")
    axes[0].legend(fontsize=8)
    axes[1].barh(y, [r["added_peak_rss_mib_median"] for r in rows], color=colors)
    axes[1].set_xlabel("added peak RSS (MiB, median)")
    for ax in axes:
        ax.set_yticks(list(y))
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(repetitions: int) -> dict[str, Any]:
    from benchmarks.machine import machine_info, machine_line
    from benchmarks.results import results_dir

    modules = [*PUBLIC_MODULES, REFERENCE_MODULE]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modules}
    with scratch_dir("bench-airflow-home-") as home:
        env = airflow_env(home)
        run_json(["-m", "benchmarks.import_probe", "airflow.sdk"], env)  # warm the file cache
        for i in range(repetitions):
            print(f"[bench] imports: round {i + 1}/{repetitions}", flush=True)
            for module in modules:
                runs[module].append(run_json(["-m", "benchmarks.import_probe", module], env))
    rows = [_summary(m, runs[m]) for m in modules]
    reference = rows[-1]["added_ms_median"]
    for row in rows[:-1]:
        added = row["added_ms_median"]
        row["meets_target"] = added < TARGET_MS and added < reference
    payload = {"parameters": {"repetitions": repetitions, "baseline": "import airflow.sdk",
                              "target_ms": TARGET_MS, "reference": REFERENCE_MODULE},
               "modules": rows}
    path = write_json("imports", payload)
    _plot(rows, results_dir() / "imports.png",
          f"import cost over airflow.sdk, {repetitions} fresh processes each - "
          f"{machine_line(machine_info())}")
    print(f"[bench] wrote {path}", flush=True)
    return payload
