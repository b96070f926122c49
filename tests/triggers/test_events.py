"""The trigger's event format and serialization: pure logic, no server."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest
from airflow.exceptions import AirflowException
from airflow.triggers.base import TriggerEvent

from saltant_provider.client.states import TERMINAL_STATES, UNFINISHED_STATES, TaskState
from saltant_provider.triggers.saltant import (
    SaltantTaskEvent,
    SaltantTaskTrigger,
    SaltantTriggerEventError,
    make_event,
    parse_event,
    status_for_state,
)

UUID = "af77cca4-8a9a-4366-902b-9615a611be71"


def good(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": "success",
        "task_instance_uuid": UUID,
        "task_kind": "executable",
        "state": "successful",
        "message": "done",
    }
    payload.update(over)
    return payload


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES, key=str))
def test_make_event_for_each_terminal_state_round_trips(state: TaskState) -> None:
    status = status_for_state(state)
    payload = make_event(status, UUID, "container", state, "m")
    assert payload == {
        "status": status,
        "task_instance_uuid": UUID,
        "task_kind": "container",
        "state": state.value,
        "message": "m",
    }
    json.dumps(payload)  # plain JSON
    event = parse_event(payload)
    assert event == SaltantTaskEvent(status, UUID, "container", state.value, "m")
    assert event.task_state is state
    assert event.is_success is (state is TaskState.SUCCESSFUL)


def test_status_names() -> None:
    assert status_for_state(TaskState.SUCCESSFUL) == "success"
    assert status_for_state(TaskState.FAILED) == "failed"
    assert status_for_state(TaskState.TERMINATED) == "terminated"
    with pytest.raises(ValueError):
        status_for_state(TaskState.RUNNING)


@pytest.mark.parametrize("status", ["timeout", "error"])
@pytest.mark.parametrize("state", [None, *UNFINISHED_STATES])
def test_timeout_and_error_carry_an_unfinished_or_unknown_state(
    status: str, state: TaskState | None
) -> None:
    event = parse_event(make_event(status, UUID, "executable", state, "why"))
    assert event.status == status
    assert event.state == (state.value if state else None)
    assert not event.is_success


def test_parse_accepts_the_trigger_event_itself() -> None:
    assert parse_event(TriggerEvent(good())).status == "success"


def test_extra_keys_are_ignored() -> None:
    assert parse_event(good(extra=1)).message == "done"


MALFORMED: list[tuple[str, Any, str]] = [
    ("none", None, "no saltant trigger event"),
    ("trigger event without payload", TriggerEvent(None), "no saltant trigger event"),
    ("string", "success", "must be a dict"),
    ("list", [good()], "must be a dict"),
    ("json text", json.dumps(good()), "must be a dict"),
    ("empty dict", {}, "lacks status"),
    ("missing message", {k: v for k, v in good().items() if k != "message"}, "lacks message"),
    ("missing state", {k: v for k, v in good().items() if k != "state"}, "lacks state"),
    ("unknown status", good(status="ok"), "unknown status"),
    ("status not str", good(status=1), "unknown status"),
    ("uuid empty", good(task_instance_uuid=""), "task_instance_uuid"),
    ("uuid not str", good(task_instance_uuid=42), "task_instance_uuid"),
    ("unknown kind", good(task_kind="docker"), "unknown task_kind"),
    ("message not str", good(message=None), "message must be a string"),
    ("state not str", good(state=3), "state must be a string"),
    ("unknown state", good(state="done"), "unknown saltant task state"),
    ("success with failed state", good(state="failed"), "does not match"),
    ("success without state", good(state=None), "does not match"),
    ("failed while running", good(status="failed", state="running"), "does not match"),
    ("timeout yet finished", good(status="timeout", state="successful"), "finished"),
    ("error yet finished", good(status="error", state="terminated"), "finished"),
]


@pytest.mark.parametrize(("shape", "event", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_parse_refuses_malformed_events(shape: str, event: Any, words: str) -> None:
    with pytest.raises(SaltantTriggerEventError, match=words) as info:
        parse_event(event)
    assert isinstance(info.value, AirflowException)


def test_make_event_refuses_what_parse_refuses() -> None:
    with pytest.raises(SaltantTriggerEventError):
        make_event("success", UUID, "executable", TaskState.RUNNING, "m")
    with pytest.raises(SaltantTriggerEventError):
        make_event("done", UUID, "executable", None, "m")


# --- serialization ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"saltant_conn_id": "s", "task_instance_uuid": UUID},
        {
            "saltant_conn_id": "saltant_prod",
            "task_instance_uuid": UUID,
            "task_kind": "container",
            "poll_interval": 0.25,
            "deadline": 1_900_000_000.5,
            "shared_polling": False,
        },
    ],
)
def test_serialize_round_trip(kwargs: dict[str, Any]) -> None:
    trigger = SaltantTaskTrigger(**kwargs)
    classpath, serialized = trigger.serialize()
    assert classpath == "saltant_provider.triggers.saltant.SaltantTaskTrigger"
    assert json.loads(json.dumps(serialized)) == serialized  # plain JSON
    assert set(serialized) == {
        "saltant_conn_id",
        "task_instance_uuid",
        "task_kind",
        "poll_interval",
        "deadline",
        "shared_polling",
    }
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(serialized)))
    assert rebuilt.serialize() == (classpath, serialized)
    for key, value in kwargs.items():
        assert serialized[key] == value


def test_repr_shows_no_secrets_and_names_the_instance() -> None:
    text = repr(SaltantTaskTrigger("s", UUID))
    assert UUID in text and "SaltantTaskTrigger" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"saltant_conn_id": ""},
        {"task_instance_uuid": ""},
        {"task_kind": "docker"},
        {"poll_interval": 0},
        {"poll_interval": -1},
        {"poll_interval": float("nan")},
        {"poll_interval": "5"},
        {"deadline": "tomorrow"},
        {"deadline": float("inf")},
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {"saltant_conn_id": "s", "task_instance_uuid": UUID}
    with pytest.raises(ValueError):
        SaltantTaskTrigger(**{**base, **kwargs})


# --- deadline -----------------------------------------------------------------------------------
async def _events(trigger: SaltantTaskTrigger, timeout: float = 10) -> list[TriggerEvent]:
    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(collect(), timeout)


@pytest.mark.parametrize("shared", [True, False])
async def test_past_deadline_gives_a_timeout_event_without_any_request(shared: bool) -> None:
    # The connection does not exist: any attempt to read it would end with "error", not "timeout".
    trigger = SaltantTaskTrigger(
        "no_such_connection", UUID, deadline=time.time() - 1, shared_polling=shared
    )
    events = await _events(trigger)
    assert len(events) == 1
    event = parse_event(events[0])
    assert event.status == "timeout"
    assert event.state is None
    assert "deadline" in event.message and UUID in event.message
