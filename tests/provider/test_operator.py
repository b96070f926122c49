"""SaltantCreateTaskOperator: argument checks, instance names, trigger events, the lost answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saltant_provider.client import SaltantConnectionError
from saltant_provider.hooks.saltant import SaltantHook
from saltant_provider.links.saltant import SaltantTaskInstanceLink
from saltant_provider.operators.saltant import (
    SaltantCreateTaskOperator,
    SaltantTaskEventError,
    SaltantTaskFailedError,
    SaltantTaskTimeoutError,
    airflow_instance_name,
)
from saltant_provider.triggers.saltant import make_event

UUID = "af77cca4-8a9a-4366-902b-9615a611be71"


def op(**kwargs: Any) -> SaltantCreateTaskOperator:
    base: dict[str, Any] = {"task_id": "t", "task_type": "echo", "task_queue": "q"}
    return SaltantCreateTaskOperator(**{**base, **kwargs})


class FakeTI:
    """Only what execute_complete touches: XCom pushes."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def ctx(ti: FakeTI) -> Any:
    return {"ti": ti}


def test_defaults_and_airflow_task_type_untouched() -> None:
    o = op(task_type=4)
    assert o.saltant_task_type == 4
    assert o.task_type == "SaltantCreateTaskOperator"  # Airflow's read-only property
    assert (o.task_kind, o.wait_for_completion, o.poll_interval, o.timeout) == (
        "executable",
        True,
        5.0,
        7 * 24 * 3600.0,
    )
    assert op(timeout=None).timeout is None
    assert o.saltant_conn_id == "saltant_default"
    assert {"arguments", "name"} <= set(o.template_fields)
    assert [link.name for link in o.operator_extra_links] == ["saltant Task Instance"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"task_kind": "docker"}, "task_kind"),
        ({"arguments": [1, 2]}, "arguments must be a dict"),
        ({"arguments": "x=1"}, "arguments must be a dict"),
        ({"arguments": {1: "a"}}, "keys must be strings"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": "5"}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"task_type": True}, "task_type"),
        ({"task_type": ""}, "task_type"),
        ({"task_queue": None}, "task_queue"),
        ({"name": 5}, "name"),
    ],
)
def test_bad_arguments_are_refused_at_dag_parse_time(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        op(**kwargs)


def test_instance_names() -> None:
    key = "dag.task.manual__2026-01-01T00:00:00+00:00.-1"
    assert airflow_instance_name(key) == key
    long_key = "d" * 150 + ".t." + "r" * 100 + ".-1"
    a = airflow_instance_name(long_key)
    b = airflow_instance_name(long_key.replace(".-1", ".2"))
    assert len(a) == 200 and a != b and a == airflow_instance_name(long_key)
    named = airflow_instance_name(key, "nightly run")
    assert named.startswith("nightly run [airflow:") and named.endswith("]")
    assert named != airflow_instance_name(key + "x", "nightly run")
    assert len(airflow_instance_name(key, "n" * 300)) == 200


@pytest.mark.parametrize("event", [None, {}, "success", {"status": "success"}])
def test_missing_or_malformed_event_is_an_error(event: Any) -> None:
    ti = FakeTI()
    with pytest.raises(SaltantTaskEventError):
        op(deferrable=True).execute_complete(ctx(ti), event)
    assert ti.pushed == {}


def test_success_and_failure_events() -> None:
    ti = FakeTI()
    ok = make_event("success", UUID, "executable", "successful", "done")
    assert op().execute_complete(ctx(ti), ok) == UUID
    assert ti.pushed == {"state": "successful"}
    bad = make_event("failed", UUID, "executable", "failed", "exit 1")
    with pytest.raises(SaltantTaskFailedError, match=UUID):
        op().execute_complete(ctx(ti), bad)
    assert ti.pushed["state"] == "failed"
    error = make_event("error", UUID, "executable", None, "server unreachable")
    with pytest.raises(SaltantTaskEventError, match="server unreachable"):
        op().execute_complete(ctx(ti), error)


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, saltant_server: Any) -> SaltantHook:
    """saltant_default pointing at the local server, with the demo types."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SALTANT_DEFAULT",
        json.dumps(
            {"conn_type": "saltant", "host": saltant_server.url, "password": saltant_server.token}
        ),
    )
    from importlib.util import module_from_spec, spec_from_file_location
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "dags_example" / "saltant_demo_setup.py"
    spec = spec_from_file_location("saltant_demo_setup_for_tests", path)
    assert spec is not None and spec.loader is not None
    setup = module_from_spec(spec)
    spec.loader.exec_module(setup)
    hook = SaltantHook()
    setup.ensure_demo_setup(hook.get_conn())
    return hook


def test_timeout_event_terminates_the_instance(live: SaltantHook) -> None:
    inst = live.instances().create(
        live.types().get(name="airflow-demo-job").id,
        live.task_queues.get(name="airflow-demo").id,
        arguments={"sleep": 60},
        name="timeout-event-test",
    )
    ti = FakeTI()
    event = make_event("timeout", inst.uuid, "executable", "running", "deadline passed")
    with pytest.raises(SaltantTaskTimeoutError, match=inst.uuid):
        op(timeout=1).execute_complete(ctx(ti), event)
    live.instances().wait_until_finished(inst.uuid, refresh_period=0.2, timeout=15)
    assert str(live.instances().get(inst.uuid).state) == "terminated"


class LosesCreateAnswer:
    """The real manager, except that create's answer is lost after the server made the instance."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self.creates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    def create(self, *args: Any, **kwargs: Any) -> Any:
        self.creates += 1
        self._manager.create(*args, **kwargs)
        raise SaltantConnectionError("connection reset by peer", request_sent=True)


def test_lost_create_answer_finds_the_created_instance(live: SaltantHook) -> None:
    manager = LosesCreateAnswer(live.instances())
    name = "lost-answer-test"
    found = op(task_type="airflow-demo-echo", task_queue="airflow-demo")._find_or_create(
        live, manager, name, {"x": 1}
    )
    assert manager.creates == 1
    same_name = live.instances().list({"name": name})
    assert [i.uuid for i in same_name] == [found.uuid]


def test_never_sent_create_is_not_looked_up(live: SaltantHook) -> None:
    class NeverSent(LosesCreateAnswer):
        def create(self, *args: Any, **kwargs: Any) -> Any:
            raise SaltantConnectionError("connection refused", request_sent=False)

    with pytest.raises(SaltantConnectionError):
        op(task_type="airflow-demo-echo", task_queue="airflow-demo")._find_or_create(
            live, NeverSent(live.instances()), "never-sent-test", {}
        )


def test_unknown_names_are_explained(live: SaltantHook) -> None:
    with pytest.raises(Exception, match="no saltant executable task type named 'nope'"):
        op(task_type="nope", task_queue="airflow-demo")._resolve(live)
    with pytest.raises(Exception, match="no saltant task queue named 'nope'"):
        op(task_type="airflow-demo-echo", task_queue="nope")._resolve(live)


def test_link_reads_the_saltant_url_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    import saltant_provider.links.saltant as links

    url = f"https://saltant.example.org/executabletaskinstances/{UUID}/"
    seen: list[str] = []

    def fake_xcom(ti_key: Any, key: str) -> Any:
        seen.append(key)
        return values.pop(0)

    values: list[Any] = [url, None, "javascript:alert(1)"]
    monkeypatch.setattr(links, "get_xcom_value", fake_xcom)
    link = SaltantTaskInstanceLink()
    assert link.name == "saltant Task Instance"
    assert link.get_link(op(), ti_key=object()) == url  # type: ignore[arg-type]
    assert link.get_link(op(), ti_key=object()) == ""  # type: ignore[arg-type]
    assert link.get_link(op(), ti_key=object()) == ""  # type: ignore[arg-type]
    assert seen == ["saltant_url"] * 3


class CreatesLate(LosesCreateAnswer):
    """The request times out on our side; the server makes the instance a moment later."""

    def create(self, *args: Any, **kwargs: Any) -> Any:
        import threading

        self.creates += 1
        timer = threading.Timer(1.5, lambda: self._manager.create(*args, **kwargs))
        timer.start()
        raise SaltantConnectionError("read timed out", request_sent=True)


def test_late_create_is_still_found(live: SaltantHook) -> None:
    manager = CreatesLate(live.instances())
    name = "late-create-test"
    found = op(task_type="airflow-demo-echo", task_queue="airflow-demo")._find_or_create(
        live, manager, name, {}
    )
    assert manager.creates == 1
    assert [i.uuid for i in live.instances().list({"name": name})] == [found.uuid]


def test_create_without_waiting_pushes_url_and_link_at_once(live: SaltantHook) -> None:
    from saltant_provider._compat import AIRFLOW_V_3

    class RunningTI(FakeTI):
        dag_id, task_id, run_id, map_index = "unit", "nowait", "manual__1", -1

    ti = RunningTI()
    uuid = op(
        task_type="airflow-demo-job",
        task_queue="airflow-demo",
        wait_for_completion=False,
        arguments={"sleep": 0.1},
    ).execute(ctx(ti))
    url = live.front_end_url(uuid)
    assert ti.pushed["saltant_url"] == url
    assert ti.pushed["state"] in ("created", "published", "running", "successful")
    if AIRFLOW_V_3:
        assert ti.pushed["_link_SaltantTaskInstanceLink"] == url


def test_sync_wait_rides_out_transient_errors_but_not_others(live: SaltantHook) -> None:
    import time

    from saltant_provider.client import BadHttpRequestError, NotFoundError

    inst = live.instances().create(
        live.types().get(name="airflow-demo-job").id,
        live.task_queues.get(name="airflow-demo").id,
        arguments={"sleep": 0.2},
        name="burst-test",
    )

    class Flaky(LosesCreateAnswer):
        def get(self, uuid: str) -> Any:
            self.creates += 1
            if self.creates <= 3:
                raise BadHttpRequestError("Service unavailable", status_code=503)
            return self._manager.get(uuid)

    o = op(poll_interval=0.1, timeout=30)
    assert o._wait(Flaky(live.instances()), inst.uuid, time.monotonic()) == "successful"

    class Gone(LosesCreateAnswer):
        def get(self, uuid: str) -> Any:
            raise NotFoundError("Not found.", status_code=404)

    with pytest.raises(NotFoundError):
        o._wait(Gone(live.instances()), inst.uuid, time.monotonic())


@pytest.mark.parametrize(
    ("retries", "try_number", "max_tries", "last"),
    [(0, 1, 0, True), (2, 1, 2, False), (2, 3, 2, True), (1, 1, 1, False), (1, 2, 1, True)],
)
def test_last_try_detection(retries: int, try_number: int, max_tries: int, last: bool) -> None:
    class TI(FakeTI):
        pass

    ti = TI()
    ti.try_number, ti.max_tries = try_number, max_tries  # type: ignore[attr-defined]
    assert op(retries=retries)._is_last_try(ctx(ti)) is last
    assert op(retries=retries)._is_last_try(ctx(FakeTI())) is False  # outside Airflow


def test_error_event_on_last_try_terminates(live: SaltantHook) -> None:
    inst = live.instances().create(
        live.types().get(name="airflow-demo-job").id,
        live.task_queues.get(name="airflow-demo").id,
        arguments={"sleep": 60},
        name="error-event-last-try",
    )
    ti = FakeTI()
    ti.try_number, ti.max_tries = 1, 0  # type: ignore[attr-defined]
    event = make_event("error", inst.uuid, "executable", "running", "token revoked")
    with pytest.raises(SaltantTaskEventError, match="token revoked"):
        op().execute_complete(ctx(ti), event)
    live.instances().wait_until_finished(inst.uuid, refresh_period=0.2, timeout=15)
    assert str(live.instances().get(inst.uuid).state) == "terminated"


@pytest.mark.parametrize("shared", [True, False])
def test_deferral_hands_shared_polling_to_the_trigger(shared: bool) -> None:
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 2
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

    o = op(deferrable=True, shared_polling=shared, poll_interval=2, timeout=60)
    with pytest.raises(TaskDeferred) as deferred:
        o._defer(UUID, started=0.0)
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["shared_polling"] is shared
    assert kwargs["task_instance_uuid"] == UUID and kwargs["poll_interval"] == 2
