"""SaltantTaskSensor: argument checks, and how trigger events end the wait (soft_fail or not)."""

from __future__ import annotations

from typing import Any

import pytest

from saltant_provider._compat import AirflowSensorTimeout, AirflowSkipException
from saltant_provider.operators.saltant import SaltantTaskEventError, SaltantTaskFailedError
from saltant_provider.sensors.saltant import SaltantTaskSensor
from saltant_provider.triggers.saltant import make_event

UUID = "af77cca4-8a9a-4366-902b-9615a611be71"


def sensor(**kwargs: Any) -> SaltantTaskSensor:
    return SaltantTaskSensor(**{"task_id": "s", "task_instance_uuid": UUID, **kwargs})


def test_defaults_and_template_field() -> None:
    s = sensor(task_instance_uuid="{{ ti.xcom_pull(task_ids='create') }}")
    assert s.template_fields == ("task_instance_uuid",)
    assert (s.task_kind, s.saltant_conn_id) == ("executable", "saltant_default")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"task_kind": "vm"}, "task_kind"), ({"task_instance_uuid": 42}, "task_instance_uuid")],
)
def test_bad_arguments(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        sensor(**kwargs)


def test_empty_rendered_uuid_is_explained() -> None:
    with pytest.raises(SaltantTaskEventError, match="rendered empty"):
        sensor(task_instance_uuid="None").poke({})


@pytest.mark.parametrize("soft_fail", [False, True])
def test_events(soft_fail: bool) -> None:
    s = sensor(soft_fail=soft_fail, deferrable=True, timeout=30)
    s.execute_complete({}, make_event("success", UUID, "executable", "successful", ""))
    for status in ("failed", "terminated"):
        event = make_event(status, UUID, "executable", status, "")
        expected = AirflowSkipException if soft_fail else SaltantTaskFailedError
        with pytest.raises(expected, match=UUID):
            s.execute_complete({}, event)
    timeout = make_event("timeout", UUID, "executable", "running", "")
    with pytest.raises(
        AirflowSkipException if soft_fail else AirflowSensorTimeout, match="timeout"
    ):
        s.execute_complete({}, timeout)
    with pytest.raises(SaltantTaskEventError):
        sensor().execute_complete({}, None)


def test_missing_uuid_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch, saltant_server: Any
) -> None:
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_SALTANT_DEFAULT",
        json.dumps(
            {"conn_type": "saltant", "host": saltant_server.url, "password": saltant_server.token}
        ),
    )
    with pytest.raises(SaltantTaskEventError, match="check the uuid") as info:
        sensor().poke({})  # type: ignore[arg-type]
    assert UUID in str(info.value) and "task_kind" in str(info.value)


@pytest.mark.parametrize("shared", [True, False])
def test_deferral_hands_shared_polling_to_the_trigger(
    shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 2
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

    s = sensor(deferrable=True, shared_polling=shared, poke_interval=3, timeout=30)
    monkeypatch.setattr(s, "poke", lambda context: False)  # still running: the sensor defers
    with pytest.raises(TaskDeferred) as deferred:
        s.execute({})
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["shared_polling"] is shared
    assert kwargs["task_instance_uuid"] == UUID and kwargs["poll_interval"] == 3
