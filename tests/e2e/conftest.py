"""End-to-end fixtures: an Airflow home with a migrated DB, the local saltant server with the demo
queue and types, the ``saltant_default`` connection, and ``run_dag`` (writes a DAG file into the
DAGs folder, loads it and runs it with ``dag.test()``)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import textwrap
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e.airflow_env import migrate_db, setup_airflow_env

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


def _load_module(path: Path) -> Any:
    name = f"saltant_e2e_{path.stem}_{uuidlib.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _find_dag(module: Any, dag_id: str) -> Any:
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise LookupError(f"no DAG {dag_id!r} in {module.__file__}")


@dataclass
class DagResult:
    """What a ``dag.test()`` run left behind, read back from the metadata DB."""

    dag_id: str
    run_id: str
    state: str
    tis: dict[str, Any] = field(default_factory=dict)  # "task_id" or "task_id[i]" -> TI row
    escaped: str | None = None  # an exception dag.test() let through (Airflow 2.11)

    def ti_state(self, key: str) -> str | None:
        ti = self.tis[key]
        return None if ti.state is None else str(getattr(ti.state, "value", ti.state))

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return xcom_value(self.dag_id, self.run_id, task_id, key, map_index)


def xcom_value(dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel  # Airflow 3
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom

        return XCom.get_one(
            run_id=run_id, key=key, task_id=task_id, dag_id=dag_id, map_index=map_index
        )
    with create_session() as session:
        query = XComModel.get_many(
            run_id=run_id, key=key, task_ids=task_id, dag_ids=dag_id, map_indexes=map_index
        )
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)


def _collect(dag_id: str, run_id: str, state: Any) -> DagResult:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    result = DagResult(dag_id, run_id, str(getattr(state, "value", state)))
    with create_session() as session:
        rows = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        for ti in rows:
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            session.expunge(ti)
            result.tis[key] = ti
    return result


def _collect_latest(dag_id: str) -> DagResult:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())
        ).first()
        assert dr is not None, f"no run of {dag_id}"
        run_id, state = dr.run_id, dr.state
    return _collect(dag_id, run_id, state)


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
    setup = _load_module(EXAMPLES / "saltant_demo_setup.py")
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
        dag = _find_dag(_load_module(target), dag_id)
        started = time.monotonic()
        try:
            dr = dag.test()
        except BaseException as exc:
            # Airflow 2.11's dag.test() lets AirflowTaskTimeout (a BaseException) escape.
            if type(exc).__name__ != "AirflowTaskTimeout":
                raise
            result = _collect_latest(dag_id)
            result.escaped = type(exc).__name__
            return result
        took = time.monotonic() - started
        print(f"dag.test({dag_id}) took {took:.1f} s")
        return _collect(dag_id, dr.run_id, dr.state)

    yield run


def instances_named(client: Any, name: str) -> list[Any]:
    return list(client.executable_task_instances.list({"name": name}))


def wait_for_state(client: Any, uuid: str, states: set[str], timeout: float = 15.0) -> str:
    """Poll the server until the instance reaches one of ``states`` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        state = str(client.executable_task_instances.get(uuid).state)
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.2)
