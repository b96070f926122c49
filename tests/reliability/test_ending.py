"""Ending: every way an Airflow task stops waiting terminates the remote instance, and a terminate
that the server accepts but never carries out does not hang the task."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from e2e.dag_runs import DagResult, instances_named, wait_for_state

from reliability.conftest import FakeTI, Proxy, first_event, is_terminate, unique

pytestmark = pytest.mark.e2e

TIMEOUT = 2


def test_operator_timeout_and_deferral_deadline_terminate_the_instance(
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
) -> None:
    conn_id = make_conn(rel_server.url, rel_server.token, timeout=5, max_tries=3)
    result = run_dag(
        "ending_timeouts",
        f"""
        for mode in ("sync", "deferred"):
            SaltantCreateTaskOperator(
                task_id=mode, saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
                arguments={{"sleep": 60}}, poll_interval=0.2, timeout={TIMEOUT},
                deferrable=(mode == "deferred"),
            )
        """,
    )
    for mode in ("sync", "deferred"):
        assert result.ti_state(mode) == "failed"
        assert ran_for(result, mode) < TIMEOUT + 10
        (inst,) = instances_named(rel_client, result.instance_name(mode))
        assert wait_for_state(rel_client, inst.uuid, {"terminated"}) == "terminated", mode


def test_killed_task_terminates_the_instance(
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
) -> None:
    # execution_timeout makes Airflow kill the running task, which calls on_kill.
    conn_id = make_conn(rel_server.url, rel_server.token, timeout=5, max_tries=3)
    result = run_dag(
        "ending_killed",
        f"""
        SaltantCreateTaskOperator(
            task_id="job", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"sleep": 60}}, poll_interval=0.2,
            execution_timeout=timedelta(seconds={TIMEOUT}),
        )
        """,
    )
    if result.escaped is None:
        assert result.ti_state("job") == "failed"
    else:  # Airflow 2.11: dag.test() re-raises the task timeout instead of recording it
        assert result.escaped == "AirflowTaskTimeout"
    (inst,) = instances_named(rel_client, result.instance_name("job"))
    assert wait_for_state(rel_client, inst.uuid, {"terminated"}) == "terminated"


def ran_for(result: DagResult, task_id: str) -> float:
    """How long the task ran (its recorded duration; the whole run where none was recorded)."""
    ti = result.tis[task_id]
    if ti.duration is not None:
        return float(ti.duration)
    if ti.start_date is not None and ti.end_date is not None:
        return (ti.end_date - ti.start_date).total_seconds()
    return result.seconds


def _never_terminates(method: str, path: str, proxy: Proxy) -> Any:
    """Answer terminate with 202 and the instance as it is now, and never pass it on."""
    if not is_terminate(method, path):
        return None
    detail = path.rstrip("/")[: -len("/terminate")] + "/"
    status, _, body = proxy.forward("GET", detail, proxy.auth_headers, b"")
    assert status == 200, status
    return (202, json.loads(body))


@pytest.fixture
def stubborn_proxy(rel_server: Any) -> Any:
    with Proxy(rel_server.url, _never_terminates) as proxy:
        proxy.auth_headers = {"Authorization": f"Token {rel_server.token}"}
        yield proxy


def test_terminate_that_never_terminates_does_not_hang_the_task(
    rel_client: Any,
    rel_demo: dict[str, int],
    stubborn_proxy: Proxy,
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
    rel_server: Any,
) -> None:
    conn_id = make_conn(stubborn_proxy.url, rel_server.token, timeout=5, max_tries=3)
    result = run_dag(
        "ending_stubborn",
        f"""
        for mode in ("sync", "deferred"):
            SaltantCreateTaskOperator(
                task_id=mode, saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
                arguments={{"sleep": 60}}, poll_interval=0.2, timeout={TIMEOUT},
                deferrable=(mode == "deferred"),
            )
        """,
    )
    try:
        assert stubborn_proxy.count("POST", "/api/executabletaskinstances/") >= 4  # 2 creates
        for mode in ("sync", "deferred"):
            assert result.ti_state(mode) == "failed"
            assert ran_for(result, mode) < TIMEOUT + 10
            (inst,) = instances_named(rel_client, result.instance_name(mode))
            assert str(inst.state) in ("created", "published", "running")  # the stub held it
    finally:
        for mode in ("sync", "deferred"):
            for inst in instances_named(rel_client, result.instance_name(mode)):
                rel_client.executable_task_instances.terminate(inst.uuid)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_timeout_with_stubborn_terminate_fails_with_a_clear_error(
    deferrable: bool,
    rel_client: Any,
    rel_demo: dict[str, int],
    stubborn_proxy: Proxy,
    make_conn: Callable[..., str],
    rel_server: Any,
    airflow_db: Any,
) -> None:
    from saltant_provider._compat import AIRFLOW_V_3
    from saltant_provider.operators.saltant import (
        SaltantCreateTaskOperator,
        SaltantTaskTimeoutError,
    )

    if AIRFLOW_V_3:
        from airflow.sdk.exceptions import TaskDeferred
    else:
        from airflow.exceptions import TaskDeferred

    conn_id = make_conn(stubborn_proxy.url, rel_server.token, timeout=5, max_tries=3)
    op = SaltantCreateTaskOperator(
        task_id="job", saltant_conn_id=conn_id, task_type="airflow-demo-job",
        task_queue="airflow-demo", arguments={"sleep": 60}, poll_interval=0.2, timeout=TIMEOUT,
        deferrable=deferrable,
    )
    ti = FakeTI(unique("stubborn"))
    context: dict[str, Any] = {"ti": ti}
    started = time.monotonic()
    try:
        with pytest.raises(SaltantTaskTimeoutError) as failure:
            try:
                op.execute(context)  # type: ignore[arg-type]
            except TaskDeferred as deferred:
                event = asyncio.run(first_event(deferred.trigger, TIMEOUT + 10))
                op.execute_complete(context, event.payload)  # type: ignore[arg-type]
        took = time.monotonic() - started
        message = str(failure.value)
        uuid = str(ti.xcoms["saltant_url"]).rstrip("/").rsplit("/", 1)[1]
        assert took < TIMEOUT + 8
        assert uuid in message
        assert f"within {TIMEOUT}" in message and "terminate" in message
        assert stubborn_proxy.count("POST", f"/api/executabletaskinstances/{uuid}/terminate") >= 1
        assert str(rel_client.executable_task_instances.get(uuid).state) != "terminated"
    finally:
        for inst in instances_named(rel_client, f"{ti.dag_id}.job.{ti.run_id}.-1"):
            rel_client.executable_task_instances.terminate(inst.uuid)


def test_on_kill_terminates_and_a_dead_terminate_does_not_hang_it(
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    rel_server: Any,
    airflow_db: Any,
) -> None:
    """on_kill while waiting: the instance is terminated; with a server that never answers the
    terminate, on_kill still returns within the client's timeout x tries."""
    from saltant_provider.operators.saltant import SaltantCreateTaskOperator

    holding: list[str] = []

    def hold_terminate(method: str, path: str, proxy: Proxy) -> Any:
        if is_terminate(method, path) and holding:
            return ("delay", 30)  # far beyond the client timeout
        return None

    for dead in (False, True):
        with Proxy(rel_server.url, hold_terminate) as proxy:
            if dead:
                holding.append("yes")
            conn_id = make_conn(proxy.url, rel_server.token, timeout=1, max_tries=2)
            op = SaltantCreateTaskOperator(
                task_id="job", saltant_conn_id=conn_id, task_type="airflow-demo-job",
                task_queue="airflow-demo", arguments={"sleep": 60}, poll_interval=0.2,
                timeout=5,
            )
            ti = FakeTI(unique("killed"))
            took: list[float] = []

            # Airflow calls on_kill from elsewhere while execute() waits (Airflow 2 allows
            # execute() only on the main thread, so the "killer" is the other thread here).
            def kill(op: Any = op, ti: Any = ti, took: list[float] = took) -> None:
                deadline = time.monotonic() + 15
                while "saltant_url" not in ti.xcoms and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.3)
                started = time.monotonic()
                op.on_kill()
                took.append(time.monotonic() - started)

            killer = threading.Thread(target=kill, daemon=True)
            killer.start()
            started = time.monotonic()
            with pytest.raises(Exception) as ended:
                op.execute({"ti": ti})  # type: ignore[arg-type]
            ended_after = time.monotonic() - started
            killer.join(15)
            uuid = str(ti.xcoms["saltant_url"]).rstrip("/").rsplit("/", 1)[1]
            try:
                assert took, "on_kill did not return"
                if dead:
                    assert took[0] < 1 * 2 + 5, f"on_kill hung {took[0]:.1f}s on a dead terminate"
                    assert "did not finish within 5" in str(ended.value)
                else:
                    assert "terminated" in str(ended.value)
                    assert ended_after < 8
                    assert str(rel_client.executable_task_instances.get(uuid).state) == (
                        "terminated"
                    )
            finally:
                rel_client.executable_task_instances.terminate(uuid)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_last_try_giving_up_on_errors_leaves_no_instance_running(
    deferrable: bool,
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
) -> None:
    """The wait fails for good (every status read gets 403, e.g. a revoked token) on the last
    try: the task fails, and the instance it started must not be left running.

    Found as a defect (the instance was left running); fixed in 1db8eea.
    """
    created: list[str] = []

    def refuse_reads_after_create(method: str, path: str, proxy: Proxy) -> Any:
        if method == "POST" and path.split("?")[0].rstrip("/").endswith("executabletaskinstances"):
            created.append(path)
            return None
        if created and method == "GET" and "executabletaskinstances" in path:
            return (403, {"detail": "Invalid token."})
        return None

    with Proxy(rel_server.url, refuse_reads_after_create) as proxy:
        conn_id = make_conn(proxy.url, rel_server.token, timeout=2, max_tries=1)
        result = run_dag(
            f"gives_up_{'deferred' if deferrable else 'sync'}",
            f"""
            SaltantCreateTaskOperator(
                task_id="job", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
                arguments={{"sleep": 20}}, poll_interval=0.2, timeout=60,
                deferrable={deferrable!r}, retries=0,
            )
            """,
        )
    assert result.ti_state("job") == "failed"
    (inst,) = instances_named(rel_client, result.instance_name("job"))
    try:
        state = wait_for_state(rel_client, inst.uuid, {"terminated", "failed"}, timeout=5)
        assert state in ("terminated", "failed"), f"instance {inst.uuid} left {state}"
    finally:
        rel_client.executable_task_instances.terminate(inst.uuid)


def test_kill_during_a_slow_create_leaves_no_instance_running(
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    airflow_db: Any,
) -> None:
    # Found as a defect (on_kill knew no uuid yet and terminated nothing); fixed in 747b381.
    from saltant_provider.operators.saltant import SaltantCreateTaskOperator

    def slow_create(method: str, path: str, proxy: Proxy) -> Any:
        return ("delay", 1.5) if method == "POST" and "terminate" not in path else None

    ti = FakeTI(unique("kill_in_create"))
    name = f"{ti.dag_id}.job.{ti.run_id}.-1"
    seen: list[str] = []
    with Proxy(rel_server.url, slow_create) as proxy:
        conn_id = make_conn(proxy.url, rel_server.token, timeout=5, max_tries=2)
        op = SaltantCreateTaskOperator(
            task_id="job", saltant_conn_id=conn_id, task_type="airflow-demo-job",
            task_queue="airflow-demo", arguments={"sleep": 30}, poll_interval=0.2, timeout=30,
        )

        def kill() -> None:
            deadline = time.monotonic() + 10
            while proxy.count("POST", "/api/executabletaskinstances/") < 1:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
            time.sleep(0.3)  # the create is in flight
            op.on_kill()
            time.sleep(1.5)  # the server has created the instance by now
            for inst in instances_named(rel_client, name):
                seen.append(wait_for_state(rel_client, inst.uuid, {"terminated"}, timeout=4))
            for inst in instances_named(rel_client, name):  # end the wait of execute()
                rel_client.executable_task_instances.terminate(inst.uuid)

        killer = threading.Thread(target=kill, daemon=True)
        killer.start()
        with pytest.raises(Exception):  # noqa: B017 (it ends once the instance is gone)
            op.execute({"ti": ti})  # type: ignore[arg-type]
        killer.join(20)
    assert seen, "the create never reached the server"
    assert seen == ["terminated"], f"after the kill the instance was {seen}"
