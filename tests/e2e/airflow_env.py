"""One Airflow home per test run, set up before Airflow is first imported.

``scripts/test`` gives each pytest run a fresh ``AIRFLOW_HOME`` (in the temp directory) with a
migrated database; it is used as is. Any other ``AIRFLOW_HOME`` (a developer's own) is left
alone: the tests then make their own under the temp directory, so they never touch real
DAGs, connections or metadata.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_MARK = "_SALTANT_TEST_AIRFLOW_HOME"


def setup_airflow_env() -> Path:
    """Set AIRFLOW_HOME, the DAGs folder and quiet test settings in ``os.environ``; idempotent."""
    if os.environ.get(_MARK):
        return Path(os.environ[_MARK])
    tmp = os.path.realpath(tempfile.gettempdir())
    home_env = os.environ.get("AIRFLOW_HOME", "")
    if home_env and os.path.realpath(home_env).startswith(tmp + os.sep):
        home = Path(home_env)
    else:
        home = Path(tempfile.mkdtemp(prefix="saltant-airflow-home-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    dags = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or home / "dags")
    if not os.path.realpath(dags).startswith(os.path.realpath(home)):
        dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    os.environ[_MARK] = str(home)
    return home


def migrate_db(home: Path) -> None:
    """``airflow db migrate`` once per Airflow home (skipped when already done)."""
    marker = home / ".saltant-db-migrated"
    if marker.exists() or (home / "db-migrate.log").exists():  # scripts/test migrated it
        return
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")
    marker.touch()
