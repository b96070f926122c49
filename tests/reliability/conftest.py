"""Fixtures for the reliability and security tests (issue 7).

- an isolated Airflow home (set before Airflow is first imported) with a migrated database;
- ``rel_server``: a local saltant server of our own (module scope), with the demo queue/types;
- ``make_conn``: an Airflow connection (env var) to any server, with extras;
- ``run_dag``: write a DAG file, run it with ``dag.test()``, read the task instances back;
- ``Proxy``: a tiny HTTP proxy in front of a server that counts requests and can lose answers
  or answer some requests itself (a lost create answer, a terminate that never terminates).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import textwrap
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from e2e.airflow_env import migrate_db, setup_airflow_env
from e2e.dag_runs import DagResult, load_module, run_dag_test

AIRFLOW_HOME = setup_airflow_env()
REPO = Path(__file__).resolve().parents[2]
DEMO_SETUP = REPO / "dags_example" / "saltant_demo_setup.py"
#: A recognisable 40-character token: it must never show up in any log, error or XCom.
SECRET_TOKEN = "tok3nSECRET" + "9f4c2a7e1b8d3f6a0c5e2b9d4f7a1"
assert len(SECRET_TOKEN) == 40

DAG_HEADER = """\
from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow import DAG

from saltant_provider.operators.saltant import SaltantCreateTaskOperator
from saltant_provider.sensors.saltant import SaltantTaskSensor

JOB = "airflow-demo-job"
QUEUE = "airflow-demo"
"""


def unique(prefix: str) -> str:
    return f"{prefix}_{uuidlib.uuid4().hex[:8]}"


def ensure_demo(client: Any) -> dict[str, int]:
    """The demo queue and types (``airflow-demo-job``: sleep, print, exit with exit_code)."""
    return dict(load_module(DEMO_SETUP).ensure_demo_setup(client))


# --------------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def airflow_db() -> Path:
    migrate_db(AIRFLOW_HOME)
    return AIRFLOW_HOME


@pytest.fixture(scope="module")
def rel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server of this module's own, so its instance counts are ours alone."""
    from saltant_provider.testing import LocalSaltantServer

    server = LocalSaltantServer(
        token=SECRET_TOKEN, users={"alice": None}, logs_dir=tmp_path_factory.mktemp("rel-logs")
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admin_client(server: Any, **options: Any) -> Any:
    from saltant_provider.client import Client

    options.setdefault("max_tries", 8)
    return Client(server.url, server.token, 30, test_if_authenticated=False, **options)


@pytest.fixture(scope="module")
def rel_client(rel_server: Any) -> Iterator[Any]:
    client = admin_client(rel_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def rel_demo(rel_client: Any) -> dict[str, int]:
    return ensure_demo(rel_client)


@pytest.fixture
def make_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``make_conn(url, token, conn_id=None, **extras)`` -> an Airflow connection id (env var)."""

    def make(url: str, token: str, conn_id: str | None = None, **extras: Any) -> str:
        conn_id = conn_id or unique("saltant_rel")
        value: dict[str, Any] = {"conn_type": "saltant", "host": url, "password": token}
        if extras:
            value["extra"] = extras
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        return conn_id

    return make


# --------------------------------------------------------------------------- DAG runs
def all_xcom_values(dag_id: str) -> list[Any]:
    """Every XCom value stored for one DAG (as raw as the table keeps it)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel as Table  # Airflow 3
    except ImportError:
        from airflow.models.xcom import BaseXCom as Table  # type: ignore[no-redef]
    with create_session() as session:
        rows = session.scalars(select(Table).where(Table.dag_id == dag_id)).all()
        return [(row.key, row.value) for row in rows]


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[..., DagResult]:
    """``run_dag(dag_id, body, header_extra="")``: a DAG whose tasks are ``body``; dag.test()."""
    import os

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

    def run(dag_id: str, body: str, header_extra: str = "") -> DagResult:
        source = (
            DAG_HEADER
            + textwrap.dedent(header_extra)
            + textwrap.dedent(
                f"""
                with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1),
                         catchup=False, tags=["saltant-reliability"]) as dag:
                """
            )
            + textwrap.indent(textwrap.dedent(body), "    ")
        )
        target = dags / f"rel_{dag_id}.py"
        target.write_text(source)
        return run_dag_test(load_module(target).dag)

    return run


def server_counts(client: Any) -> dict[str, int]:
    """How many instances, types, queues and whitelists the server holds (one GET each)."""
    return {
        "executable_task_instances": client.executable_task_instances.list_page(
            None, 1, 1
        ).count,
        "container_task_instances": client.container_task_instances.list_page(None, 1, 1).count,
        "executable_task_types": client.executable_task_types.list_page(None, 1, 1).count,
        "container_task_types": client.container_task_types.list_page(None, 1, 1).count,
        "task_queues": client.task_queues.list_page(None, 1, 1).count,
        "task_whitelists": client.task_whitelists.list_page(None, 1, 1).count,
    }


# --------------------------------------------------------------------------- outside a DAG
class FakeTI:
    """The few task-instance members the operator uses, outside a scheduler."""

    def __init__(self, dag_id: str) -> None:
        self.dag_id = dag_id
        self.task_id = "job"
        self.run_id = "manual__restart"
        self.map_index = -1
        self.try_number = 1
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


async def first_event(trigger: Any, timeout: float) -> Any:
    """The first event of a trigger's run(), within ``timeout`` seconds."""

    async def first() -> Any:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(first(), timeout)


# --------------------------------------------------------------------------- the proxy
#: What the proxy does with one request: None forwards it; "lose" forwards it and then closes
#: the connection without answering; ("delay", seconds) waits, then forwards and answers;
#: (status, body) answers it without forwarding (JSON; bytes are sent as an HTML page).
Decision = None | str | tuple[int, Any]
Rule = Callable[[str, str, "Proxy"], Decision]


class Proxy:
    """A threaded HTTP proxy to ``upstream`` (http://127.0.0.1:PORT) that records every request.

    ``url`` is the API root through the proxy. ``rule(method, path, proxy)`` decides per request.
    """

    def __init__(self, upstream_url: str, rule: Rule | None = None) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname == "127.0.0.1" and parts.port
        self.upstream = (parts.hostname, parts.port)
        self.rule: Rule = rule or (lambda method, path, proxy: None)
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.requests.append((self.command, self.path))
                decision = proxy.rule(self.command, self.path, proxy)
                if isinstance(decision, tuple) and decision[0] == "delay":
                    time.sleep(float(decision[1]))
                    decision = None
                if isinstance(decision, tuple):
                    status, payload = decision
                    raw = isinstance(payload, bytes)
                    data = payload if raw else json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if raw else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                try:
                    status, headers, data = proxy.forward(
                        self.command, self.path, self.headers, body
                    )
                except OSError:  # the upstream is gone (e.g. stopped at teardown)
                    self.close_connection = True
                    return
                if decision == "lose":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/"

    def forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            send = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body or None, headers=send)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


CREATE_PATH = "/api/executabletaskinstances/"


def is_create(method: str, path: str) -> bool:
    return method == "POST" and path.split("?")[0].rstrip("/") == CREATE_PATH.rstrip("/")


def is_terminate(method: str, path: str) -> bool:
    return method == "POST" and path.rstrip("/").endswith("/terminate")
