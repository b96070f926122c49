"""Create-and-wait under injected faults: 5xx, dropped connections, answers slower than the timeout.

50 mapped task instances (25 waiting on a worker, 25 deferred) run against a server that faults
20% of its API requests. Each must end with the outcome its job was designed for, no task
instance may have two saltant instances, and none may be left running after its task ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.dag_runs import DagResult

from reliability.conftest import admin_client, ensure_demo

pytestmark = pytest.mark.e2e

N_PER_MODE = 25
FAIL_EVERY = 5  # every 5th job exits 1 by design
CLIENT_TIMEOUT = 1  # seconds per request (connection extra); slow faults take longer
SLOW_SECONDS = 1.5

# Jobs that fail by design must not be retried (that would start them again); tasks that fail
# because of a transient fault may be retried by Airflow, and must then reattach, not re-create.
HEADER = """
from saltant_provider._compat import AirflowFailException
from saltant_provider.operators.saltant import SaltantTaskFailedError


class NoRetryOnJobFailure(SaltantCreateTaskOperator):
    def execute(self, context):
        try:
            return super().execute(context)
        except SaltantTaskFailedError as exc:
            raise AirflowFailException(str(exc)) from exc

    def execute_complete(self, context, event=None):
        try:
            return super().execute_complete(context, event)
        except SaltantTaskFailedError as exc:
            raise AirflowFailException(str(exc)) from exc
"""


def job_args(i: int) -> dict[str, Any]:
    return {"sleep": 0.2, "exit_code": 1 if i % FAIL_EVERY == FAIL_EVERY - 1 else 0, "i": i}


@pytest.fixture(scope="module")
def faulty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server that faults 20% of API requests; its demo setup was made while it was healthy."""
    from saltant_provider.testing import LocalSaltantServer

    tmp = tmp_path_factory.mktemp("faulty")
    db = tmp / "saltant.sqlite3"
    with LocalSaltantServer(db=db, logs_dir=tmp / "logs") as healthy:
        token = healthy.token
        client = admin_client(healthy)
        ensure_demo(client)
        client.close()
    server = LocalSaltantServer(
        db=db,
        token=token,
        logs_dir=tmp / "logs",
        fault_rate=0.2,
        fault_kinds=["5xx", "drop", "slow"],
        slow_seconds=SLOW_SECONDS,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _aware(value: Any) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def test_fifty_runs_under_faults_end_right_without_duplicates_or_orphans(
    faulty_server: Any,
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
    airflow_db: Path,
) -> None:
    conn_id = make_conn(
        faulty_server.url, faulty_server.token, timeout=CLIENT_TIMEOUT, max_tries=5
    )
    args = [job_args(i) for i in range(N_PER_MODE)]
    result = run_dag(
        "faults",
        f"""
        for mode in ("sync", "deferred"):
            NoRetryOnJobFailure.partial(
                task_id=mode, saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
                poll_interval=0.3, timeout=60, deferrable=(mode == "deferred"),
                retries=4, retry_delay=timedelta(seconds=2),
            ).expand(arguments={args!r})
        """,
        header_extra=HEADER,
    )
    client = admin_client(faulty_server, max_tries=10)
    problems: list[str] = []
    for mode in ("sync", "deferred"):
        for i in range(N_PER_MODE):
            key = f"{mode}[{i}]"
            ti = result.tis[key]
            want = "failed" if job_args(i)["exit_code"] else "success"
            instances = list(
                client.executable_task_instances.list({"name": result.instance_name(mode, i)})
            )
            got = result.ti_state(key)
            if got != want:
                problems.append(f"{key}: task ended {got}, expected {want} (try {ti.try_number})")
            if len(instances) != 1:
                problems.append(
                    f"{key}: {len(instances)} saltant instances for one task instance "
                    f"({[(str(x.uuid), str(x.state)) for x in instances]}, try {ti.try_number})"
                )
            for inst in instances:
                if not inst.state.is_terminal:
                    problems.append(f"{key}: instance {inst.uuid} still {inst.state} after the end")
                elif inst.datetime_finished is not None and ti.end_date is not None:
                    late = (_aware(inst.datetime_finished) - _aware(ti.end_date)).total_seconds()
                    if late > 0.5:
                        problems.append(
                            f"{key}: instance {inst.uuid} ran {late:.1f}s after its task ended"
                        )
            if instances and want == "success":
                expected = "successful"
                if str(instances[0].state) != expected or result.xcom(mode, map_index=i) != str(
                    instances[0].uuid
                ):
                    problems.append(f"{key}: XCom does not name the successful instance")
    client.close()
    retried = sorted(k for k, ti in result.tis.items() if ti.try_number > 1)
    print(f"faults DAG: {result.seconds:.1f}s; retried: {retried}")
    assert not problems, "\n".join(problems)
