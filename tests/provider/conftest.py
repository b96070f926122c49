"""Provider tests: an isolated Airflow home before Airflow is imported."""

from __future__ import annotations

from e2e.airflow_env import setup_airflow_env

setup_airflow_env()
