"""Where results go, and how they are written (JSON + PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.machine import machine_info

#: The committed results (shown in benchmarks/README.md).
RESULTS_DIR = Path(__file__).resolve().parent / "results"
_current = [RESULTS_DIR]


def results_dir() -> Path:
    """Where this run writes (``RESULTS_DIR`` unless :func:`use_results_dir` changed it)."""
    return _current[0]


def use_results_dir(path: Path) -> None:
    """Write this run's results elsewhere (smoke runs must not overwrite the committed ones)."""
    _current[0] = path


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the machine description added."""
    results_dir().mkdir(parents=True, exist_ok=True)
    path = results_dir() / f"{name}.json"
    document = {"benchmark": name, "measured_at": utc_now(), "machine": machine_info(), **payload}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_json(name: str) -> dict[str, Any] | None:
    path = results_dir() / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")
