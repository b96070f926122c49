"""The Airflow CLI lists the provider and its hook and tests a saltant connection (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest

BAD_TOKEN = "0123456789abcdef0123456789abcdef01234567"


def airflow_cli(
    *args: str, conn: dict[str, Any] | str | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    if conn is not None:
        env["AIRFLOW_CONN_SALTANT_DEFAULT"] = conn if isinstance(conn, str) else json.dumps(conn)
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_providers_list_and_hooks() -> None:
    listed = airflow_cli("providers", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "airflow-provider-saltant" in listed.stdout
    hooks = airflow_cli("providers", "hooks", "--output", "json")
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    assert "saltant_provider.hooks.saltant.SaltantHook" in hooks.stdout
    assert '"saltant"' in hooks.stdout


@pytest.mark.parametrize("form", ["json", "uri"])
def test_connections_test_accepts_a_good_connection(saltant_server: Any, form: str) -> None:
    if form == "json":
        conn: Any = {
            "conn_type": "saltant",
            "host": saltant_server.url,
            "password": saltant_server.token,
        }
    else:
        parts = urlsplit(saltant_server.url)
        conn = f"saltant://:{saltant_server.token}@{parts.netloc}{parts.path}?scheme=http"
    result = airflow_cli("connections", "test", "saltant_default", conn=conn)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-2000:]
    assert "Connection success!" in out
    assert saltant_server.token not in out


def test_connections_test_rejects_a_bad_token(saltant_server: Any) -> None:
    conn = {"conn_type": "saltant", "host": saltant_server.url, "password": BAD_TOKEN}
    result = airflow_cli("connections", "test", "saltant_default", conn=conn)
    out = result.stdout + result.stderr
    assert "Connection success!" not in out
    assert "failed" in out.lower()
    assert BAD_TOKEN not in out
