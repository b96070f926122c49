"""The API token never leaks: not in logs (debug included), errors, reprs, XComs or the database.

The module's server uses a recognisable token (``tok3nSECRET...``); the DAG runs succeed, fail,
defer, time out and use a wrong token (``tok3nWRONG...``). Afterwards neither token may appear in
anything Airflow or the provider wrote.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e.dag_runs import DagResult, instances_named

from reliability.conftest import SECRET_TOKEN, all_xcom_values

pytestmark = pytest.mark.e2e

WRONG_TOKEN = "tok3nWRONG" + "0123456789abcdef0123456789abcd"
TOKENS = (SECRET_TOKEN, WRONG_TOKEN)


def _leaks(text: str) -> list[str]:
    return [token[:11] + "..." for token in TOKENS if token in text]


def _where(text: str) -> list[str]:
    """The text around each leak, to name the culprit."""
    spots = []
    for token in TOKENS:
        start = text.find(token)
        while start >= 0 and len(spots) < 6:
            spots.append(text[max(0, start - 300) : start + 60])
            start = text.find(token, start + 1)
    return spots


def _files_holding_a_token(root: Path) -> list[str]:
    found = []
    needles = [t.encode() for t in TOKENS]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    for name in ("saltant_provider", "urllib3", "httpx", "httpcore", "airflow"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_token_appears_in_no_log_error_xcom_or_database(
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
    debug_logging: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    airflow_db: Path,
) -> None:
    assert rel_server.token == SECRET_TOKEN
    conn_id = make_conn(rel_server.url, SECRET_TOKEN, timeout=5, max_tries=2)
    wrong_id = make_conn(rel_server.url, WRONG_TOKEN, timeout=5, max_tries=2)
    result = run_dag(
        "secrets",
        f"""
        ok = SaltantCreateTaskOperator(
            task_id="ok", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"sleep": 0.2, "ds": "{{{{ ds }}}}"}}, poll_interval=0.2, timeout=30,
        )
        SaltantCreateTaskOperator(
            task_id="deferred", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"sleep": 0.2}}, poll_interval=0.2, timeout=30, deferrable=True,
        )
        SaltantCreateTaskOperator(
            task_id="fails", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"exit_code": 2}}, poll_interval=0.2, timeout=30,
        )
        SaltantCreateTaskOperator(
            task_id="times_out", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"sleep": 30}}, poll_interval=0.2, timeout=1, deferrable=True,
        )
        SaltantCreateTaskOperator(
            task_id="wrong_token", saltant_conn_id={wrong_id!r}, task_type=JOB,
            task_queue=QUEUE,
        )
        ok >> SaltantTaskSensor(
            task_id="sense", saltant_conn_id={conn_id!r}, poke_interval=0.2, timeout=30,
            task_instance_uuid="{{{{ ti.xcom_pull(task_ids='ok') }}}}",
        )
        """,
    )
    assert result.ti_state("ok") == "success"
    assert result.ti_state("deferred") == "success"
    assert result.ti_state("sense") == "success"
    assert result.ti_state("fails") == "failed"
    assert result.ti_state("times_out") == "failed"
    assert result.ti_state("wrong_token") == "failed"
    for inst in instances_named(rel_client, result.instance_name("times_out")):
        rel_client.executable_task_instances.terminate(inst.uuid)

    # What was captured is real: the client's debug lines and the task logs are in it.
    records = debug_logging.records
    captured = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in records
    ) + "\n".join(debug_logging.text.splitlines())
    out, err = capfd.readouterr()
    everything = captured + out + err
    uuid = result.xcom("ok")
    assert uuid and uuid in everything, "the capture missed the task logs"
    assert any(r.name.startswith("saltant_provider.client") for r in records) or (
        "-> 200" in everything
    ), "the capture missed the client's debug lines"

    leaked = [line for line in everything.splitlines() if _leaks(line)]
    # Airflow 3's own task supervisor logs, at DEBUG, the request that registers the token for
    # masking ("Sending request ... msg=MaskSecret(value='<token>')"): Airflow's line, not ours.
    ours = [line for line in leaked if "MaskSecret(value=" not in line]
    assert ours == [], f"a token was logged: {_where(chr(10).join(ours))}"
    home = Path(os.environ["AIRFLOW_HOME"])
    assert any(home.rglob("*.db")), "the metadata database was not found under AIRFLOW_HOME"
    assert _files_holding_a_token(home) == [], "a token was written under AIRFLOW_HOME"
    xcoms = all_xcom_values("secrets")
    assert xcoms, "no XCom was read"
    assert _leaks(repr(xcoms)) == []


def test_token_appears_in_no_repr_or_error(
    rel_server: Any, rel_demo: dict[str, int], make_conn: Callable[..., str], airflow_db: Path
) -> None:
    from saltant_provider.client import AsyncClient, Client
    from saltant_provider.hooks.saltant import SaltantHook
    from saltant_provider.operators.saltant import SaltantCreateTaskOperator
    from saltant_provider.triggers.saltant import SaltantTaskTrigger

    conn_id = make_conn(rel_server.url, SECRET_TOKEN, timeout=5, max_tries=1)
    wrong_id = make_conn(rel_server.url, WRONG_TOKEN, timeout=5, max_tries=1)
    hook = SaltantHook(conn_id)
    client = hook.get_conn()
    settings = hook.get_settings()
    assert settings.auth_token == SECRET_TOKEN  # the token is there, just never shown
    op = SaltantCreateTaskOperator(
        task_id="t", saltant_conn_id=conn_id, task_type="airflow-demo-job", task_queue=1
    )

    async def async_repr() -> str:
        ac = await hook.get_async_client()
        async with ac:
            return repr(ac) + str(ac) + repr(vars(ac).get("_transport"))

    shown = [
        repr(hook), str(hook), repr(client), str(client), repr(settings), str(settings),
        repr(op), str(op), asyncio.run(async_repr()),
        repr(client.executable_task_instances), repr(Client), repr(AsyncClient),
        repr(SaltantTaskTrigger(conn_id, "af77cca4-8a9a-4366-902b-9615a611be71").serialize()),
    ]
    wrong = SaltantHook(wrong_id)
    ok, message = wrong.test_connection()
    assert not ok and "403" in message
    shown.append(message)
    try:
        wrong.get_conn().executable_task_instances.list_page(None, 1, 1)
    except Exception as exc:
        shown += [str(exc), repr(exc), repr(vars(exc))]
    else:
        raise AssertionError("a wrong token was accepted")
    assert _leaks("\n".join(shown)) == [], "\n".join(shown)
