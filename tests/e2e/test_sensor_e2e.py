"""SaltantTaskSensor in real DAG runs: poke, reschedule and deferrable; failures and soft_fail."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_sensor_modes(run_dag: Any) -> None:
    result = run_dag(
        "sensor_modes",
        """
        ok = SaltantCreateTaskOperator(
            task_id="create_ok", task_type=JOB, task_queue=QUEUE, arguments={"sleep": 1.5},
            wait_for_completion=False,
        )
        bad = SaltantCreateTaskOperator(
            task_id="create_bad", task_type=JOB, task_queue=QUEUE,
            arguments={"sleep": 0.5, "exit_code": 2}, wait_for_completion=False,
        )
        ok_uuid = "{{ ti.xcom_pull(task_ids='create_ok') }}"
        bad_uuid = "{{ ti.xcom_pull(task_ids='create_bad') }}"
        common = dict(poke_interval=POLL, timeout=60)
        ok >> SaltantTaskSensor(
            task_id="poke_ok", task_instance_uuid=ok_uuid, mode="poke", **common
        )
        ok >> SaltantTaskSensor(
            task_id="reschedule_ok", task_instance_uuid=ok_uuid, mode="reschedule", **common
        )
        ok >> SaltantTaskSensor(
            task_id="deferred_ok", task_instance_uuid=ok_uuid, deferrable=True, **common
        )
        bad >> SaltantTaskSensor(task_id="poke_bad", task_instance_uuid=bad_uuid, **common)
        bad >> SaltantTaskSensor(
            task_id="poke_bad_soft", task_instance_uuid=bad_uuid, soft_fail=True, **common
        )
        bad >> SaltantTaskSensor(
            task_id="deferred_bad", task_instance_uuid=bad_uuid, deferrable=True, **common
        )
        bad >> SaltantTaskSensor(
            task_id="deferred_bad_soft", task_instance_uuid=bad_uuid, deferrable=True,
            soft_fail=True, **common
        )
        """,
    )
    states = {key: result.ti_state(key) for key in result.tis}
    assert states == {
        "create_ok": "success",
        "create_bad": "success",
        "poke_ok": "success",
        "reschedule_ok": "success",
        "deferred_ok": "success",
        "poke_bad": "failed",
        "poke_bad_soft": "skipped",
        "deferred_bad": "failed",
        "deferred_bad_soft": "skipped",
    }


def test_sensor_timeouts(run_dag: Any) -> None:
    result = run_dag(
        "sensor_timeouts",
        """
        slow = SaltantCreateTaskOperator(
            task_id="create_slow", task_type=JOB, task_queue=QUEUE, arguments={"sleep": 30},
            wait_for_completion=False,
        )
        uuid = "{{ ti.xcom_pull(task_ids='create_slow') }}"
        slow >> SaltantTaskSensor(
            task_id="poke_timeout", task_instance_uuid=uuid, poke_interval=POLL, timeout=1.5
        )
        slow >> SaltantTaskSensor(
            task_id="deferred_timeout", task_instance_uuid=uuid, poke_interval=POLL, timeout=1.5,
            deferrable=True,
        )
        slow >> SaltantTaskSensor(
            task_id="deferred_timeout_soft", task_instance_uuid=uuid, poke_interval=POLL,
            timeout=1.5, deferrable=True, soft_fail=True,
        )
        """,
    )
    assert result.ti_state("poke_timeout") == "failed"
    assert result.ti_state("deferred_timeout") == "failed"
    assert result.ti_state("deferred_timeout_soft") == "skipped"
