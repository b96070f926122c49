"""Importing the operator, sensor and hook modules (DAG parsing) loads no HTTP or async library."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = (
    "requests",
    "httpx",
    "asyncio",
    "aiohttp",
    "saltant_provider.client",
    "saltant_provider.triggers",
)

PROBE = """
import json, sys
{baseline}
before = {{m for m in {heavy!r} if m in sys.modules}}
import saltant_provider.operators.saltant, saltant_provider.sensors.saltant
import saltant_provider.hooks.saltant, saltant_provider.links.saltant
after = {{m for m in {heavy!r} if m in sys.modules}}
print(json.dumps(sorted(after - before)))
"""


def _added(baseline: str) -> list[str]:
    code = PROBE.format(baseline=baseline, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_our_modules_add_no_http_or_async_library() -> None:
    baseline = "import airflow\ntry:\n    import airflow.sdk\nexcept ImportError:\n    pass"
    assert _added(baseline) == []


def test_even_on_top_of_the_bare_base_classes() -> None:
    baseline = (
        "try:\n    from airflow.sdk import BaseOperator, BaseSensorOperator, BaseHook\n"
        "except ImportError:\n    from airflow.models.baseoperator import BaseOperator\n"
        "    from airflow.sensors.base import BaseSensorOperator\n"
        "    from airflow.hooks.base import BaseHook"
    )
    assert _added(baseline) == []
