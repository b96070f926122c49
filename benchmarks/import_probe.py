"""One fresh-process import measurement (run by ``benchmarks.imports``, once per repetition).

    python -m benchmarks.import_probe MODULE

imports ``airflow.sdk`` first, then MODULE, and prints one JSON line: the seconds each import
took and how much each raised the process's peak RSS (``VmHWM``) and current RSS. (Not
``ru_maxrss``: after fork + exec it starts at the parent's peak, which can hide a child's.)
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_kib() -> int:
    return _status_kib("VmRSS") or 0


def _peak_kib() -> int:
    peak = _status_kib("VmHWM")
    return peak if peak is not None else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main(module: str) -> dict[str, float]:
    rss0, peak0 = _rss_kib(), _peak_kib()
    t0 = time.perf_counter()
    importlib.import_module("airflow.sdk")
    t1 = time.perf_counter()
    rss1, peak1 = _rss_kib(), _peak_kib()
    importlib.import_module(module)
    t2 = time.perf_counter()
    rss2, peak2 = _rss_kib(), _peak_kib()
    return {
        "base_s": t1 - t0,
        "added_s": t2 - t1,
        "base_peak_kib": peak1 - peak0,
        "added_peak_kib": peak2 - peak1,
        "base_rss_kib": rss1 - rss0,
        "added_rss_kib": rss2 - rss1,
        "modules_added": len(sys.modules),
    }


if __name__ == "__main__":
    before = set(sys.modules)
    result = main(sys.argv[1])
    result["modules_added"] = len(set(sys.modules) - before)
    print(json.dumps(result))
