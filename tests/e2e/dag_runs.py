"""Running DAG files with ``dag.test()`` and reading back what they left: shared by tests/e2e and
tests/reliability."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def load_module(path: Path) -> Any:
    """Import a DAG (or setup) file under a fresh module name, as Airflow's parser would."""
    name = f"saltant_test_{path.stem}_{uuidlib.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class DagResult:
    """What a ``dag.test()`` run left behind, read back from the metadata DB."""

    dag_id: str
    run_id: str
    state: str
    tis: dict[str, Any] = field(default_factory=dict)  # "task_id" or "task_id[i]" -> TI row
    escaped: str | None = None  # an exception dag.test() let through (Airflow 2.11)
    seconds: float = 0.0

    def ti_state(self, key: str) -> str | None:
        ti = self.tis[key]
        return None if ti.state is None else str(getattr(ti.state, "value", ti.state))

    def instance_name(self, task_id: str, map_index: int = -1) -> str:
        """The saltant instance name the operator gives this task instance (no user name)."""
        return f"{self.dag_id}.{task_id}.{self.run_id}.{map_index}"

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


def collect(dag_id: str, run_id: str | None = None, state: Any = None) -> DagResult:
    """The run ``run_id`` of ``dag_id`` (its latest run when None) with its task instances."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        if run_id is None:
            dr = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())
            ).first()
            assert dr is not None, f"no run of {dag_id}"
            run_id, state = dr.run_id, dr.state
        result = DagResult(dag_id, run_id, str(getattr(state, "value", state)))
        rows = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        for ti in rows:
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            session.expunge(ti)
            result.tis[key] = ti
    return result


def run_dag_test(dag: Any) -> DagResult:
    """``dag.test()`` and its result; Airflow 2.11 lets AirflowTaskTimeout escape: record it."""
    started = time.monotonic()
    try:
        dr = dag.test()
    except BaseException as exc:
        if type(exc).__name__ != "AirflowTaskTimeout":
            raise
        result = collect(dag.dag_id)
        result.escaped = type(exc).__name__
    else:
        result = collect(dag.dag_id, dr.run_id, dr.state)
    result.seconds = time.monotonic() - started
    return result


def instances_named(client: Any, name: str) -> list[Any]:
    return list(client.executable_task_instances.list({"name": name}))


def wait_for_state(client: Any, uuid: str, states: set[str], timeout: float = 20.0) -> str:
    """Poll until the instance reaches one of ``states`` (or ``timeout`` passes); its state."""
    deadline = time.monotonic() + timeout
    while True:
        state = str(client.executable_task_instances.get(uuid).state)
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.2)
