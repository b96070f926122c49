"""Shared test configuration: an isolated Airflow home, and the local saltant server fixtures."""

from e2e.airflow_env import setup_airflow_env

# Before any test module imports Airflow: never read or write a developer's own Airflow home.
setup_airflow_env()

pytest_plugins = ["saltant_provider.testing.pytest_plugin"]
