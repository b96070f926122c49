"""Importing the client must stay cheap: no Airflow, and no HTTP library until a client is used."""

from __future__ import annotations

import json
import subprocess
import sys


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_import_client_pulls_in_no_airflow_and_no_http_library() -> None:
    names = _loaded_after("import saltant_provider.client")
    assert "saltant_provider.client.states" in names  # the probe works
    assert not _top(names) & {"airflow", "httpx", "requests"}
    assert not names & {"saltant_provider.client.aio", "saltant_provider.client.sync"}
    assert not {n for n in names if n.startswith("saltant_provider.testing")}


def test_sync_client_loads_requests_on_first_use() -> None:
    names = _loaded_after("from saltant_provider.client import Client")
    assert {"requests", "saltant_provider.client.sync"} <= names
    assert not _top(names) & {"airflow", "httpx"}


def test_async_client_loads_httpx_on_first_use() -> None:
    names = _loaded_after("from saltant_provider.client import AsyncClient")
    assert {"httpx", "saltant_provider.client.aio"} <= names
    assert "airflow" not in _top(names)
