"""End-to-end fixtures: an Airflow home with a migrated DB, the local saltant server with the demo
queue and types, the ``saltant_default`` connection, and ``run_dag`` (writes a DAG file into the
DAGs folder, loads it and runs it with ``dag.test()``)."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e import dag_runs
from e2e.airflow_env import migrate_db, setup_airflow_env
from e2e.dag_runs import DagResult, load_module, run_dag_test

AIRFLOW_HOME = setup_airflow_env()
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags_example"
POLL = 0.3

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
POLL = {poll}
"""


def _find_dag(module: Any, dag_id: str) -> Any:
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise LookupError(f"no DAG {dag_id!r} in {module.__file__}")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    migrate_db(AIRFLOW_HOME)
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def saltant_client(saltant_server: Any) -> Any:
    from saltant_provider.client import Client

    return Client(saltant_server.url, saltant_server.token, 30, test_if_authenticated=False)


@pytest.fixture(scope="session")
def demo_ids(saltant_client: Any) -> dict[str, int]:
    setup = load_module(EXAMPLES / "saltant_demo_setup.py")
    return setup.ensure_demo_setup(saltant_client)


@pytest.fixture
def saltant_conn(monkeypatch: pytest.MonkeyPatch, saltant_server: Any, demo_ids: Any) -> str:
    conn = {
        "conn_type": "saltant",
        "host": saltant_server.url,
        "password": saltant_server.token,
        "extra": {"timeout": 10, "max_tries": 3},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SALTANT_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("SALTANT_DEMO_POLL_INTERVAL", str(POLL))
    return "saltant_default"


@pytest.fixture
def dags_folder(airflow_db: Path) -> Path:
    import os

    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture
def run_dag(dags_folder: Path, saltant_conn: str) -> Iterator[Callable[..., DagResult]]:
    """``run_dag(dag_id, body)``: write a DAG whose tasks are ``body`` (Python, inside ``with
    DAG(...)``), or ``run_dag(dag_id, path=example)`` for a ready file; run it; return the
    result."""
    written: list[Path] = []

    def run(dag_id: str, body: str | None = None, *, path: Path | None = None) -> DagResult:
        if path is None:
            assert body is not None
            source = (
                DAG_HEADER.format(poll=POLL)
                + textwrap.dedent(
                    f"""
                with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1),
                         catchup=False, tags=["saltant-e2e"]) as dag:
                """
                )
                + textwrap.indent(textwrap.dedent(body), "    ")
            )
            target = dags_folder / f"e2e_{dag_id}.py"
            target.write_text(source)
        else:
            target = dags_folder / path.name
            shutil.copy(path, target)
        written.append(target)
        result = run_dag_test(_find_dag(load_module(target), dag_id))
        print(f"dag.test({dag_id}) took {result.seconds:.1f} s")
        return result

    yield run


def wait_for_state(client: Any, uuid: str, states: set[str], timeout: float = 15.0) -> str:
    """Poll the server until the instance reaches one of ``states`` (or the timeout passes)."""
    return dag_runs.wait_for_state(client, uuid, states, timeout)
