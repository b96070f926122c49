"""Example Airflow DAG: wait in the triggerer instead of a worker slot (deferrable mode).

``deferrable=True`` on the operator and on the sensor hands the wait to SaltantTaskTrigger, which
only polls; the create itself always happens on the worker. Needs a running triggerer.
The ``downstream`` task is gated on both waits: it runs only when both jobs succeeded.
Setup: see saltant_create_and_wait.py.
"""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task

from saltant_provider.operators.saltant import SaltantCreateTaskOperator
from saltant_provider.sensors.saltant import SaltantTaskSensor

TASK_TYPE = os.environ.get("SALTANT_DEMO_JOB_TYPE", "airflow-demo-job")
QUEUE = os.environ.get("SALTANT_DEMO_QUEUE", "airflow-demo")
POLL_INTERVAL = float(os.environ.get("SALTANT_DEMO_POLL_INTERVAL", "5"))

with DAG(
    dag_id="saltant_deferrable",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["saltant", "example"],
) as dag:
    run_deferred = SaltantCreateTaskOperator(
        task_id="run_deferred",
        task_type=TASK_TYPE,
        task_queue=QUEUE,
        arguments={"sleep": 1},
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=600,
    )
    create = SaltantCreateTaskOperator(
        task_id="create",
        task_type=TASK_TYPE,
        task_queue=QUEUE,
        arguments={"sleep": 1},
        wait_for_completion=False,
    )
    sense_deferred = SaltantTaskSensor(
        task_id="sense_deferred",
        task_instance_uuid="{{ ti.xcom_pull(task_ids='create') }}",
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=600,
    )

    @task(task_id="downstream")
    def downstream(deferred_uuid: str, sensed_uuid: str) -> str:
        """Gated on both waits: runs only once both saltant jobs ended successful."""
        message = f"saltant jobs {deferred_uuid} and {sensed_uuid} succeeded"
        print(message)
        return message

    gate = downstream(run_deferred.output, create.output)
    create >> sense_deferred >> gate
