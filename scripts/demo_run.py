"""Run one example DAG with ``dag.test()`` against a running saltant server; report what happened.

Called by ``scripts/demo`` (which sets up the environment and starts the local
saltant-compatible server). Reads ``SALTANT_API_URL`` and ``SALTANT_AUTH_TOKEN``; the token is
handed to Airflow through ``AIRFLOW_CONN_SALTANT_DEFAULT`` and never printed.

    python scripts/demo_run.py --dag-file dags_example/saltant_deferrable.py \\
        --dag-id saltant_deferrable --report report.txt

Exit code 0 when the DAG run succeeded, 1 otherwise. The report (two small tables: the Airflow
task instances and the saltant task instances) goes to ``--report``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_example"


def _load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _find_dag(module: Any, dag_id: str) -> Any:
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise LookupError(f"no DAG {dag_id!r} in {module.__file__}")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None or end is None:
        return "-"
    return f"{(end - start).total_seconds():.1f} s"


def _clock(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%H:%M:%S")


def _state(value: Any) -> str:
    return "-" if value is None else str(getattr(value, "value", value))


def _return_value(dag_id: str, run_id: str, task_id: str, map_index: int) -> Any:
    """The task's XCom ``return_value`` (the saltant uuid for the create operator)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel as XCom  # Airflow 3
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    with create_session() as session:
        row = session.scalars(
            select(XCom).where(
                XCom.dag_id == dag_id,
                XCom.run_id == run_id,
                XCom.task_id == task_id,
                XCom.map_index == map_index,
                XCom.key == "return_value",
            )
        ).first()
        return None if row is None else XCom.deserialize_value(row)


def _watched_uuid(ti: Any, session: Any) -> str | None:
    """The saltant uuid a sensor watched: its rendered ``task_instance_uuid`` template field."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    fields = RenderedTaskInstanceFields.get_templated_fields(ti, session=session) or {}
    value = fields.get("task_instance_uuid")
    return None if value in (None, "") else str(value)


def _airflow_rows(dag: Any, run_id: str) -> list[list[str]]:
    """One row per Airflow task instance of the run, in the order they started."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    never = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    rows = []
    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id
            )
        ).all()
        for ti in sorted(tis, key=lambda t: t.start_date or never):
            task = dag.get_task(ti.task_id)
            uuid = None
            if type(task).__name__.startswith("Saltant"):  # other tasks return other things
                uuid = _return_value(
                    dag.dag_id, run_id, ti.task_id, ti.map_index
                ) or _watched_uuid(ti, session)
            label = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            rows.append(
                [
                    label,
                    str(getattr(task, "task_type", type(task).__name__)),
                    "yes" if getattr(task, "deferrable", False) else "no",
                    _state(ti.state),
                    _clock(ti.start_date),
                    _seconds(ti.start_date, ti.end_date),
                    str(ti.try_number),
                    "-" if uuid is None else str(uuid),
                ]
            )
    return rows


def _saltant_rows(client: Any, since: dt.datetime) -> list[list[str]]:
    rows = []
    for inst in client.executable_task_instances.list():
        created = inst.datetime_created
        if created is not None and created < since:
            continue
        rows.append(
            [
                str(inst.uuid),
                str(inst.name or "-"),
                _state(inst.state),
                _clock(created),
                _seconds(created, inst.datetime_finished),
            ]
        )
    return sorted(rows, key=lambda r: r[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-file", type=Path, required=True)
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--source", default=None, help="where the DAG file comes from (shown)")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()

    from saltant_provider.client import Client

    api_url = os.environ["SALTANT_API_URL"]
    token = os.environ["SALTANT_AUTH_TOKEN"]
    client = Client(api_url, token, 30, test_if_authenticated=True)

    # The demo queue and task types (what dags_example/saltant_demo_setup.py creates).
    setup = _load_module(EXAMPLES / "saltant_demo_setup.py", "saltant_demo_setup")
    ids = setup.ensure_demo_setup(client)
    print(f"saltant demo setup: {ids}")

    # The Airflow connection, as an environment variable (JSON form).
    os.environ["AIRFLOW_CONN_SALTANT_DEFAULT"] = json.dumps(
        {"conn_type": "saltant", "host": api_url, "password": token}
    )
    os.environ.setdefault("SALTANT_DEMO_POLL_INTERVAL", str(args.poll_interval))

    dag = _find_dag(_load_module(args.dag_file, f"demo_{args.dag_file.stem}"), args.dag_id)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    print(f"dag.test({args.dag_id!r}) ...", flush=True)
    started = time.monotonic()
    run = dag.test()
    took = time.monotonic() - started
    state = _state(run.state)

    report = [
        f"DAG {args.dag_id} ({args.source or args.dag_file})",
        f"run {run.run_id}: {state} in {took:.1f} s",
        "",
        "Airflow task instances",
        _table(
            ["task", "class", "deferrable", "state", "started", "took", "tries", "saltant uuid"],
            _airflow_rows(dag, run.run_id),
        ),
        "",
        f"saltant task instances (server {api_url})",
        _table(["uuid", "name", "state", "created", "took"], _saltant_rows(client, since)),
    ]
    args.report.write_text("\n".join(report) + "\n")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
