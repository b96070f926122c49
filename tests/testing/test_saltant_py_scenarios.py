"""saltant-py 0.4.0, unmodified, against the local server: what its users do every day."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from saltant.client import Client
from saltant.exceptions import AuthenticationError, BadHttpRequestError

from saltant_provider.testing import LocalSaltantServer

T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T:
    """Run ``call`` in a thread; fail the test instead of hanging (saltant-py has no timeout)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"saltant-py call still running after {seconds}s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client(saltant_server: LocalSaltantServer) -> Client:
    return Client(saltant_server.url, saltant_server.token, default_timeout=10)


@pytest.fixture(scope="module")
def setup(client: Client) -> dict[str, Any]:
    """A whitelist holding two types, a queue using it, and a type left off the list."""
    tag = uuid.uuid4().hex[:8]
    ok = client.executable_task_types.create(
        name=f"py-ok-{tag}",
        command_to_run="python3 -c 'import sys, json; json.loads(sys.argv[1])'",
        required_arguments=["msg"], required_arguments_default_values={"msg": "hi"},
    )
    fail = client.executable_task_types.create(name=f"py-fail-{tag}", command_to_run="false")
    sleepy = client.executable_task_types.create(name=f"py-sleep-{tag}", command_to_run="sleep 30")
    stranger = client.executable_task_types.create(name=f"py-x-{tag}", command_to_run="true")
    needs = client.executable_task_types.create(
        name=f"py-needs-{tag}", command_to_run="true", required_arguments=["a"])
    wl = client.task_whitelists.create(
        name=f"wl-{tag}",
        whitelisted_executable_task_types=[ok.id, fail.id, sleepy.id, needs.id],
    )
    queue = client.task_queues.create(name=f"q-{tag}", whitelists=[wl.id])
    return {"ok": ok, "fail": fail, "sleepy": sleepy, "stranger": stranger, "needs": needs,
            "wl": wl, "queue": queue, "tag": tag}


def test_created_objects_read_back(client: Client, setup: dict[str, Any]) -> None:
    queue = client.task_queues.get(id=setup["queue"].id)
    assert queue.name == f"q-{setup['tag']}"
    assert queue.whitelists == [setup["wl"].id]
    assert queue.active is True and queue.runs_executable_tasks is True
    assert client.executable_task_types.get(name=setup["ok"].name).id == setup["ok"].id
    assert client.users.get("admin").username == "admin"


def test_successful_and_failed_runs(client: Client, setup: dict[str, Any]) -> None:
    mgr = client.executable_task_instances
    good = mgr.create(setup["ok"].id, setup["queue"].id, arguments={"msg": "yo"}, name="good")
    bad = mgr.create(setup["fail"].id, setup["queue"].id, name="bad")
    assert good.state == "created" and good.arguments == {"msg": "yo"}
    done = within(30, lambda: mgr.wait_until_finished(good.uuid, refresh_period=0.2))
    assert done.state == "successful" and done.datetime_finished is not None
    failed = within(30, lambda: bad.wait_until_finished(refresh_period=0.2))
    assert failed.state == "failed"


def test_default_arguments_are_filled_in(client: Client, setup: dict[str, Any]) -> None:
    inst = client.executable_task_instances.create(setup["ok"].id, setup["queue"].id)
    assert inst.arguments == {"msg": "hi"}


def test_terminate_and_clone(client: Client, setup: dict[str, Any]) -> None:
    mgr = client.executable_task_instances
    inst = mgr.create(setup["sleepy"].id, setup["queue"].id, name="sleeper")
    answer = mgr.terminate(inst.uuid)
    assert answer.uuid == inst.uuid and answer.state != "terminated"
    ended = within(30, lambda: mgr.wait_until_finished(inst.uuid, refresh_period=0.2))
    assert ended.state == "terminated" and ended.datetime_finished is None
    clone = ended.clone()
    assert clone.uuid != inst.uuid and clone.name == "sleeper" and clone.state == "created"
    assert clone.task_type == inst.task_type and clone.task_queue == inst.task_queue
    mgr.terminate_many([clone.uuid])


def test_list_with_filters(client: Client, setup: dict[str, Any]) -> None:
    mgr = client.executable_task_instances
    name = f"listed-{setup['tag']}"
    made = [mgr.create(setup["ok"].id, setup["queue"].id, name=name) for _ in range(3)]
    listed = mgr.list(filters={"name": name})
    assert [i.uuid for i in listed] == [i.uuid for i in reversed(made)]  # newest first
    assert len(mgr.list(filters={"name__startswith": "listed-", "task_type": setup["ok"].id})) >= 3
    queues = client.task_queues.list(filters={"name": setup["queue"].name})
    assert [q.id for q in queues] == [setup["queue"].id]


def test_queue_and_whitelist_updates(client: Client, setup: dict[str, Any]) -> None:
    wl = client.task_whitelists.get(id=setup["wl"].id)
    wl.description = "patched"
    assert wl.patch().description == "patched"
    queue = client.task_queues.patch(setup["queue"].id, description="busy queue")
    assert queue.description == "busy queue" and queue.whitelists == [setup["wl"].id]


def test_bad_token_is_an_authentication_error(saltant_server: LocalSaltantServer) -> None:
    with pytest.raises(AuthenticationError):
        Client(saltant_server.url, "0" * 40, default_timeout=10)


def test_unknown_uuid_is_an_error(client: Client) -> None:
    with pytest.raises(BadHttpRequestError) as err:
        client.executable_task_instances.get(str(uuid.uuid4()))
    assert "404" in str(err.value)


def test_missing_argument_and_not_whitelisted(client: Client, setup: dict[str, Any]) -> None:
    mgr = client.executable_task_instances
    with pytest.raises(BadHttpRequestError) as missing:
        mgr.create(setup["needs"].id, setup["queue"].id)
    assert "required argument 'a' not provided!" in str(missing.value)
    with pytest.raises(BadHttpRequestError) as stranger:
        mgr.create(setup["stranger"].id, setup["queue"].id)
    assert "has not whitelisted task type" in str(stranger.value)


def test_types_put_sync_and_container_types(client: Client, setup: dict[str, Any]) -> None:
    ttype = client.executable_task_types.get(id=setup["fail"].id)
    ttype.description = "always fails"
    assert ttype.put().description == "always fails"
    assert client.executable_task_types.get(id=ttype.id).description == "always fails"
    ctype = client.container_task_types.create(
        name=f"py-c-{setup['tag']}", command_to_run="echo hi", container_image="busybox",
        container_type="docker")
    assert ctype.container_type == "docker" and ctype.logs_path == ""
    assert client.container_task_types.get(name=ctype.name).id == ctype.id
    queue = client.task_queues.get(id=setup["queue"].id)
    queue.private = True
    assert queue.put().private is True
    queue.private = False
    assert queue.put().private is False and queue.sync().whitelists == [setup["wl"].id]
    assert {u.username for u in client.users.list()} >= {"admin", "alice"}
