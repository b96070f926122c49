"""A flaky saltant server (dropped connections, 503s): tasks still succeed, one instance each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.conftest import EXAMPLES
from e2e.dag_runs import instances_named, load_module

pytestmark = pytest.mark.e2e


def test_flaky_server_one_instance_per_task(
    run_dag: Any, saltant_server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saltant_provider.client import Client, SaltantError

    server = saltant_server_factory(fault_rate=0.25, fault_kinds=("drop", "5xx"), fault_seed=11)
    client = Client(server.url, server.token, 10, test_if_authenticated=False, max_tries=8)
    setup = load_module(EXAMPLES / "saltant_demo_setup.py")
    for _ in range(20):  # the setup itself goes through the faults; it is idempotent
        try:
            setup.ensure_demo_setup(client)
            break
        except SaltantError:
            continue
    else:
        pytest.fail("could not set up the demo types on the flaky server")
    conn = {
        "conn_type": "saltant",
        "host": server.url,
        "password": server.token,
        "extra": {"timeout": 10, "max_tries": 8},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SALTANT_FLAKY", json.dumps(conn))

    result = run_dag(
        "faults_flaky",
        """
        for i in range(4):
            SaltantCreateTaskOperator(
                task_id=f"job{i}", saltant_conn_id="saltant_flaky", task_type=JOB,
                task_queue=QUEUE, poll_interval=POLL, timeout=60, arguments={"sleep": 0.3},
                retries=3, retry_delay=timedelta(seconds=0),
            )
        """,
    )
    states = {key: result.ti_state(key) for key in result.tis}
    assert states == {f"job{i}": "success" for i in range(4)}
    for i in range(4):
        (inst,) = instances_named(client, f"faults_flaky.job{i}.{result.run_id}.-1")
        assert str(inst.uuid) == result.xcom(f"job{i}")
