"""Example Airflow DAG: create a saltant task instance and wait for it (the simplest use).

Needs an Airflow connection ``saltant_default`` (type saltant) and the demo queue and task types
(``python dags_example/saltant_demo_setup.py``). Task type and queue names come from the Airflow
Variables ``saltant_demo_task_type`` / ``saltant_demo_queue``, else from the environment
variables ``SALTANT_DEMO_TASK_TYPE`` / ``SALTANT_DEMO_QUEUE``, else the demo defaults.
"""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow import DAG

from saltant_provider.operators.saltant import SaltantCreateTaskOperator

TASK_TYPE = os.environ.get("SALTANT_DEMO_TASK_TYPE", "airflow-demo-echo")
QUEUE = os.environ.get("SALTANT_DEMO_QUEUE", "airflow-demo")
POLL_INTERVAL = float(os.environ.get("SALTANT_DEMO_POLL_INTERVAL", "5"))

with DAG(
    dag_id="saltant_create_and_wait",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["saltant", "example"],
) as dag:
    SaltantCreateTaskOperator(
        task_id="echo",
        saltant_conn_id="saltant_default",
        task_type="{{ var.value.get('saltant_demo_task_type', '" + TASK_TYPE + "') }}",
        task_queue="{{ var.value.get('saltant_demo_queue', '" + QUEUE + "') }}",
        # arguments are templated: values can use the run's context.
        arguments={"greeting": "hello from Airflow", "run_id": "{{ run_id }}", "ds": "{{ ds }}"},
        poll_interval=POLL_INTERVAL,
        timeout=600,
    )
