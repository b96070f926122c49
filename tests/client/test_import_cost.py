"""Importing the client must stay cheap: no Airflow, no httpx until AsyncClient is used."""

from __future__ import annotations

import subprocess
import sys


def _imported_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_import_client_pulls_in_neither_airflow_nor_httpx() -> None:
    names = _imported_modules("import saltant_provider.client")
    assert "saltant_provider.client.sync" in names  # the probe works
    assert not {n for n in names if n.split(".")[0] in ("airflow", "httpx")}
    assert "saltant_provider.client.aio" not in names
    assert not {n for n in names if n.startswith("saltant_provider.testing")}


def test_async_client_loads_httpx_on_first_use() -> None:
    names = _imported_modules("from saltant_provider.client import AsyncClient")
    assert "httpx" in names and "saltant_provider.client.aio" in names
    assert not {n for n in names if n.split(".")[0] == "airflow"}
