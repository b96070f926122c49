"""The lost answer: the server creates the instance, but its answer never reaches the operator.

The operator must find that instance by the unique name it gave it, and not create a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e.dag_runs import DagResult, instances_named

from reliability.conftest import CREATE_PATH, Proxy, is_create

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_lost_create_answer_finds_the_instance_instead_of_creating_another(
    deferrable: bool,
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
) -> None:
    lost: list[str] = []

    def lose_first_create(method: str, path: str, proxy: Proxy) -> Any:
        if is_create(method, path) and not lost:
            lost.append(path)
            return "lose"  # processed upstream, answer dropped
        return None

    with Proxy(rel_server.url, lose_first_create) as proxy:
        conn_id = make_conn(proxy.url, rel_server.token, timeout=5, max_tries=3)
        dag_id = f"lost_answer_{'defer' if deferrable else 'sync'}"
        result = run_dag(
            dag_id,
            f"""
            SaltantCreateTaskOperator(
                task_id="job", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
                arguments={{"sleep": 0.3}}, poll_interval=0.2, timeout=60,
                deferrable={deferrable!r},
            )
            """,
        )
        creates = proxy.count("POST", CREATE_PATH)
    assert lost, "the proxy never saw the create"
    assert result.ti_state("job") == "success"
    assert result.tis["job"].try_number == 1  # found on the first try, no Airflow retry needed
    (instance,) = instances_named(rel_client, result.instance_name("job"))
    assert result.xcom("job") == str(instance.uuid)
    assert str(instance.state) == "successful"
    assert creates == 1, f"{creates} create requests were sent for one task instance"
