"""Create the saltant queue, whitelist and task types that the example DAGs use.

The example DAGs run the task types ``airflow-demo-echo`` (``echo`` of the JSON arguments) and
``airflow-demo-job`` (a Python one-liner: sleeps ``arguments["sleep"]`` seconds, prints the
arguments, exits with ``arguments["exit_code"]``) on the queue ``airflow-demo``. Run this once
against your saltant server, as a user allowed to create task types and queues::

    SALTANT_API_URL=https://saltant.example.org/api/ SALTANT_AUTH_TOKEN=... \\
        python dags_example/saltant_demo_setup.py

Idempotent: what already exists (by name) is reused. This file defines no DAG.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

DEMO_QUEUE = "airflow-demo"
DEMO_WHITELIST = "airflow-demo"
DEMO_ECHO_TYPE = "airflow-demo-echo"
DEMO_JOB_TYPE = "airflow-demo-job"

_JOB_CODE = (
    "import json, sys, time; "
    "a = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}; "
    "time.sleep(float(a.get('sleep', 0))); print(json.dumps(a)); "
    "sys.exit(int(a.get('exit_code', 0)))"
)


def _get_or_create(manager: Any, name: str, **create: Any) -> Any:
    from saltant_provider.client import NotFoundError

    try:
        return manager.get(name=name)
    except NotFoundError:
        return manager.create(name, **create)


def ensure_demo_setup(client: Any, python: str = sys.executable) -> dict[str, int]:
    """Make sure the demo types, whitelist and queue exist; return their ids by name."""
    echo = _get_or_create(
        client.executable_task_types,
        DEMO_ECHO_TYPE,
        command_to_run="echo",
        description="Airflow provider demo: echo the JSON arguments",
    )
    job = _get_or_create(
        client.executable_task_types,
        DEMO_JOB_TYPE,
        command_to_run=f"{shlex.quote(python)} -c {shlex.quote(_JOB_CODE)}",
        description="Airflow provider demo: sleep, print the arguments, exit with exit_code",
    )
    type_ids = [echo.id, job.id]
    whitelist = _get_or_create(
        client.task_whitelists,
        DEMO_WHITELIST,
        description="Airflow provider demo types",
        whitelisted_executable_task_types=type_ids,
    )
    if set(whitelist.whitelisted_executable_task_types) != set(type_ids):
        client.task_whitelists.patch(whitelist.id, whitelisted_executable_task_types=type_ids)
    queue = _get_or_create(
        client.task_queues,
        DEMO_QUEUE,
        description="Airflow provider demo queue",
        whitelists=[whitelist.id],
    )
    if whitelist.id not in queue.whitelists:
        client.task_queues.patch(queue.id, whitelists=[*queue.whitelists, whitelist.id])
    return {DEMO_ECHO_TYPE: echo.id, DEMO_JOB_TYPE: job.id, DEMO_QUEUE: queue.id}


if __name__ == "__main__":
    from saltant_provider.client import from_env

    print(ensure_demo_setup(from_env(test_if_authenticated=True)))
