"""SaltantCreateTaskOperator in real DAG runs (dag.test) against the local saltant server."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import wait_for_state
from e2e.dag_runs import instances_named

pytestmark = pytest.mark.e2e


def test_success_pushes_uuid_state_and_link(
    run_dag: Any, saltant_client: Any, saltant_server: Any
) -> None:
    result = run_dag(
        "op_success",
        """
        SaltantCreateTaskOperator(
            task_id="job", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=60,
            arguments={"sleep": 0.5, "run": "{{ run_id }}"},
        )
        """,
    )
    assert result.state == "success"
    assert result.ti_state("job") == "success"
    uuid = result.xcom("job")
    assert result.xcom("job", "state") == "successful"
    url = f"{saltant_server.root_url.rstrip('/')}/executabletaskinstances/{uuid}/"
    assert result.xcom("job", "saltant_url") == url
    inst = saltant_client.executable_task_instances.get(uuid)
    assert str(inst.state) == "successful"
    assert inst.arguments["run"] == result.run_id  # the template was rendered
    assert inst.name == f"op_success.job.{result.run_id}.-1"

    link = result.xcom("job", "_link_SaltantTaskInstanceLink")
    if link is None:  # Airflow 2 computes links on demand from the XCom
        from saltant_provider.links.saltant import SaltantTaskInstanceLink

        link = SaltantTaskInstanceLink().get_link(None, ti_key=result.tis["job"].key)
    assert link == url


def test_task_type_and_queue_by_id_and_user_name(
    run_dag: Any, saltant_client: Any, demo_ids: dict[str, int]
) -> None:
    result = run_dag(
        "op_by_id",
        f"""
        SaltantCreateTaskOperator(
            task_id="job", task_type={demo_ids["airflow-demo-echo"]},
            task_queue={demo_ids["airflow-demo"]}, poll_interval=POLL, timeout=60,
            name="nightly {{{{ ds }}}}",
        )
        """,
    )
    assert result.ti_state("job") == "success"
    inst = saltant_client.executable_task_instances.get(result.xcom("job"))
    assert inst.name.startswith("nightly 20") and " [airflow:" in inst.name


def test_unknown_task_type_fails_with_clear_message(run_dag: Any, saltant_client: Any) -> None:
    result = run_dag(
        "op_unknown_type",
        """
        SaltantCreateTaskOperator(task_id="job", task_type="no-such-type", task_queue=QUEUE)
        """,
    )
    assert result.state == "failed"
    assert result.ti_state("job") == "failed"
    assert instances_named(saltant_client, f"op_unknown_type.job.{result.run_id}.-1") == []


def test_failing_job_fails_the_task(run_dag: Any, saltant_client: Any) -> None:
    result = run_dag(
        "op_failing",
        """
        SaltantCreateTaskOperator(
            task_id="job", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=60,
            arguments={"exit_code": 3},
        )
        """,
    )
    assert result.state == "failed"
    assert result.ti_state("job") == "failed"
    assert result.xcom("job", "state") == "failed"
    (inst,) = instances_named(saltant_client, f"op_failing.job.{result.run_id}.-1")
    assert str(inst.state) == "failed"


def test_operator_timeout_terminates_remote_instance(run_dag: Any, saltant_client: Any) -> None:
    result = run_dag(
        "op_timeout",
        """
        SaltantCreateTaskOperator(
            task_id="job", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=2,
            arguments={"sleep": 60},
        )
        """,
    )
    assert result.ti_state("job") == "failed"
    (inst,) = instances_named(saltant_client, f"op_timeout.job.{result.run_id}.-1")
    assert wait_for_state(saltant_client, inst.uuid, {"terminated"}) == "terminated"


def test_kill_terminates_remote_instance(run_dag: Any, saltant_client: Any) -> None:
    # execution_timeout makes Airflow kill the task, which calls on_kill.
    result = run_dag(
        "op_killed",
        """
        SaltantCreateTaskOperator(
            task_id="job", task_type=JOB, task_queue=QUEUE, poll_interval=POLL,
            arguments={"sleep": 60}, execution_timeout=timedelta(seconds=3),
        )
        """,
    )
    if result.escaped is None:
        assert result.ti_state("job") == "failed"
    else:  # Airflow 2.11: dag.test() re-raises the task timeout instead of recording it
        assert result.escaped == "AirflowTaskTimeout"
    (inst,) = instances_named(saltant_client, f"op_killed.job.{result.run_id}.-1")
    assert wait_for_state(saltant_client, inst.uuid, {"terminated"}) == "terminated"


def test_deferrable_operator(run_dag: Any, saltant_client: Any) -> None:
    result = run_dag(
        "op_deferrable",
        """
        SaltantCreateTaskOperator(
            task_id="ok", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=60,
            arguments={"sleep": 1}, deferrable=True,
        )
        SaltantCreateTaskOperator(
            task_id="bad", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=60,
            arguments={"exit_code": 1}, deferrable=True,
        )
        SaltantCreateTaskOperator(
            task_id="slow", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=2,
            arguments={"sleep": 60}, deferrable=True,
        )
        """,
    )
    assert result.ti_state("ok") == "success"
    assert result.xcom("ok", "state") == "successful"
    ok_uuid = result.xcom("ok")
    assert str(saltant_client.executable_task_instances.get(ok_uuid).state) == "successful"
    assert result.xcom("ok", "saltant_url").endswith(f"/executabletaskinstances/{ok_uuid}/")
    assert result.ti_state("bad") == "failed"
    assert result.xcom("bad", "state") == "failed"
    assert result.ti_state("slow") == "failed"
    (slow,) = instances_named(saltant_client, f"op_deferrable.slow.{result.run_id}.-1")
    assert wait_for_state(saltant_client, slow.uuid, {"terminated"}) == "terminated"


def test_reattach_on_retry_creates_exactly_one_instance(run_dag: Any, saltant_client: Any) -> None:
    # Try 1 creates the instance, then its worker "dies" while the job still runs; try 2 must
    # find the unfinished instance by name and wait for it instead of creating another.
    result = run_dag(
        "op_reattach",
        """
        class LosesItsWorkerOnTry1(SaltantCreateTaskOperator):
            def execute(self, context):
                self._try = context["ti"].try_number
                return super().execute(context)

            def _wait(self, manager, uuid, started):
                if self._try == 1:
                    raise RuntimeError("simulated worker loss on try 1")
                return super()._wait(manager, uuid, started)

        LosesItsWorkerOnTry1(
            task_id="job", task_type=JOB, task_queue=QUEUE, poll_interval=POLL, timeout=60,
            arguments={"sleep": 3}, retries=1, retry_delay=timedelta(seconds=0),
        )
        """,
    )
    assert result.ti_state("job") == "success"
    assert result.tis["job"].try_number == 2
    instances = instances_named(saltant_client, f"op_reattach.job.{result.run_id}.-1")
    assert len(instances) == 1
    assert str(instances[0].uuid) == result.xcom("job")
    assert str(instances[0].state) == "successful"
