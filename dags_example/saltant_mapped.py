"""Example Airflow DAG: one saltant task instance per argument set (dynamic task mapping).

``.partial()`` fixes what all instances share; ``.expand(arguments=[...])`` makes one Airflow
task instance, and one saltant task instance, per dict. Each gets its own saltant name
(the map index is part of it), so retries reattach to the right one.
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

TASK_TYPE = os.environ.get("SALTANT_DEMO_TASK_TYPE", "airflow-demo-echo")
QUEUE = os.environ.get("SALTANT_DEMO_QUEUE", "airflow-demo")
POLL_INTERVAL = float(os.environ.get("SALTANT_DEMO_POLL_INTERVAL", "5"))

with DAG(
    dag_id="saltant_mapped",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["saltant", "example"],
) as dag:
    SaltantCreateTaskOperator.partial(
        task_id="echo_each",
        task_type=TASK_TYPE,
        task_queue=QUEUE,
        poll_interval=POLL_INTERVAL,
        timeout=600,
    ).expand(arguments=[{"sample": "a"}, {"sample": "b"}, {"sample": "c"}])
