"""Example Airflow DAG: create a saltant task instance without waiting, then wait with a sensor.

The sensor takes the uuid from the operator's XCom. ``wait_poke`` holds a worker slot while it
waits; ``wait_reschedule`` frees it between checks (``mode="reschedule"``).
Setup: see saltant_create_and_wait.py.
"""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow import DAG

from saltant_provider.operators.saltant import SaltantCreateTaskOperator
from saltant_provider.sensors.saltant import SaltantTaskSensor

TASK_TYPE = os.environ.get("SALTANT_DEMO_JOB_TYPE", "airflow-demo-job")
QUEUE = os.environ.get("SALTANT_DEMO_QUEUE", "airflow-demo")
POLL_INTERVAL = float(os.environ.get("SALTANT_DEMO_POLL_INTERVAL", "5"))

with DAG(
    dag_id="saltant_create_then_sense",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["saltant", "example"],
) as dag:
    create = SaltantCreateTaskOperator(
        task_id="create",
        task_type=TASK_TYPE,
        task_queue=QUEUE,
        arguments={"sleep": 2},
        wait_for_completion=False,
    )
    wait_poke = SaltantTaskSensor(
        task_id="wait_poke",
        task_instance_uuid="{{ ti.xcom_pull(task_ids='create') }}",
        poke_interval=POLL_INTERVAL,
        timeout=600,
        mode="poke",
    )
    wait_reschedule = SaltantTaskSensor(
        task_id="wait_reschedule",
        task_instance_uuid="{{ ti.xcom_pull(task_ids='create') }}",
        poke_interval=POLL_INTERVAL,
        timeout=600,
        mode="reschedule",
    )
    create >> [wait_poke, wait_reschedule]
