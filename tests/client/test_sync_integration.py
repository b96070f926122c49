"""Every sync manager and model method against the local saltant server over real HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from saltant_provider.client import Client, TaskState
from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadEnvironmentError,
    BadHttpRequestError,
    NotFoundError,
    WaitTimeoutError,
)

from .conftest import World, unique

WAIT = {"refresh_period": 0.05, "timeout": 30}
MISSING = "00000000-0000-4000-8000-000000000000"


def _count_requests(client: Client) -> list[str]:
    sent: list[str] = []
    original = client._transport.send

    def counting(spec: Any) -> Any:
        sent.append(spec.describe())
        return original(spec)

    client._transport.send = counting  # type: ignore[method-assign]
    return sent


# ---------------------------------------------------------------- client
def test_authentication(saltant_server: Any) -> None:
    Client(saltant_server.url.rstrip("/"), saltant_server.token).test_authentication()
    with pytest.raises(AuthenticationError, match="Invalid token") as info:
        Client(saltant_server.url, "f" * 40)
    assert info.value.status_code == 403 and "f" * 40 not in str(info.value)


def test_from_env(saltant_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALTANT_API_URL", saltant_server.url)
    monkeypatch.delenv("SALTANT_AUTH_TOKEN", raising=False)
    with pytest.raises(BadEnvironmentError, match="SALTANT_AUTH_TOKEN"):
        Client.from_env()
    monkeypatch.setenv("SALTANT_AUTH_TOKEN", saltant_server.token)
    assert Client.from_env().users.get("admin").username == "admin"
    monkeypatch.delenv("SALTANT_API_URL")
    with pytest.raises(BadEnvironmentError, match="SALTANT_API_URL"):
        Client.from_env()


# ---------------------------------------------------------------- users
def test_users(client: Client) -> None:
    admin = client.users.get("admin")
    assert str(admin) == "admin"
    assert admin.sync() is admin
    assert "admin" in [u.username for u in client.users.list()]
    assert [u.username for u in client.users.list({"username": "admin"})] == ["admin"]
    with pytest.raises(NotFoundError):
        client.users.get(unique("nobody"))


# ---------------------------------------------------------------- task types
def test_executable_task_types(world: World) -> None:
    c, echo = world.client, world.echo
    assert echo.user == "admin" and echo.required_arguments == ["msg"]
    assert echo.datetime_created is not None and echo.datetime_created.tzinfo is not None
    assert c.executable_task_types.get(id=echo.id).name == echo.name
    assert c.executable_task_types.get(name=echo.name).id == echo.id
    assert [t.id for t in c.executable_task_types.list({"name": echo.name})] == [echo.id]
    with pytest.raises(NotFoundError, match="no executable task type named"):
        c.executable_task_types.get(name=unique("missing"))
    with pytest.raises(BadHttpRequestError, match=r"name: .*already exists"):
        c.executable_task_types.create(name=echo.name, command_to_run="true")

    t = c.executable_task_types.create(
        name=unique("tmp"), command_to_run="true", json_file_option="--json-file"
    )
    assert t.json_file_option == "--json-file"
    t2 = c.executable_task_types.put(t.id, t.name, "via manager", "true", [], ["x"], {"x": 1}, None)
    assert (t2.description, t2.required_arguments_default_values, t2.json_file_option) == (
        "via manager",
        {"x": 1},
        None,
    )
    t.description = "via model"
    assert t.put() is t and t.description == "via model"
    assert c.executable_task_types.get(id=t.id).description == "via model"
    stale = c.executable_task_types.get(id=t.id)
    c.executable_task_types.put(t.id, t.name, "newer", "true", [], [], {}, None)
    assert stale.sync().description == "newer"


def test_container_task_types(world: World) -> None:
    c, ct = world.client, world.container
    assert (ct.container_image, ct.container_type, ct.logs_path) == (
        "ubuntu:22.04",
        "docker",
        "/logs",
    )
    assert c.container_task_types.get(name=ct.name).id == ct.id
    assert ct.id in [t.id for t in c.container_task_types.list({"container_type": "docker"})]
    t = c.container_task_types.put(
        ct.id, ct.name, "d", ct.command_to_run, [], [], {}, "/l", "/r", "busybox", "docker"
    )
    assert (t.container_image, t.logs_path, t.results_path) == ("busybox", "/l", "/r")
    ct.sync()
    ct.description = "model put"
    ct.put()
    assert c.container_task_types.get(id=ct.id).description == "model put"


# ---------------------------------------------------------------- queues and whitelists
def test_task_queues(world: World) -> None:
    c, q = world.client, world.queue
    assert (
        q.active
        and q.runs_executable_tasks
        and not q.private
        and q.whitelists == [world.whitelist.id]
    )
    assert c.task_queues.get(name=q.name).id == q.id
    assert q.id in [x.id for x in c.task_queues.list({"active": True, "name": q.name})]
    assert c.task_queues.list({"active": False, "name": q.name}) == []
    assert c.task_queues.patch(q.id, description="patched").description == "patched"
    q2 = c.task_queues.put(q.id, q.name, "put", False, True, True, True, True, [world.whitelist.id])
    assert q2.description == "put"
    q.sync()
    assert q.description == "put"
    q.description = "model patch"
    q.patch()
    q.description = "model put"
    q.put()
    assert c.task_queues.get(id=q.id).description == "model put"
    with pytest.raises(BadHttpRequestError, match="name: "):
        c.task_queues.create("no spaces allowed")


def test_task_whitelists(world: World) -> None:
    c, wl = world.client, world.whitelist
    assert c.task_whitelists.get(name=wl.name).id == wl.id
    assert wl.id in [w.id for w in c.task_whitelists.list({"name__startswith": "wl-"})]
    extra = c.task_whitelists.create(unique("wl"), "spare")
    assert extra.whitelisted_executable_task_types == []
    p = c.task_whitelists.patch(extra.id, whitelisted_executable_task_types=[world.echo.id])
    assert p.whitelisted_executable_task_types == [world.echo.id] and p.description == "spare"
    u = c.task_whitelists.put(extra.id, extra.name, "all", [], [])
    assert (u.description, u.whitelisted_executable_task_types) == ("all", [])
    extra.sync()
    extra.description = "model"
    extra.patch()
    extra.put()
    assert c.task_whitelists.get(id=extra.id).description == "model"


# ---------------------------------------------------------------- instances
def test_create_wait_clone_and_list(world: World) -> None:
    c = world.client
    mgr = c.executable_task_instances
    name = unique("run")
    inst = mgr.create(world.echo.id, world.queue.id, {"msg": "hello"}, name=name)
    assert inst.state in (TaskState.CREATED, TaskState.PUBLISHED, TaskState.RUNNING)
    assert inst.arguments == {"msg": "hello"} and inst.user == "admin" and str(inst) == inst.uuid
    done = mgr.wait_until_finished(inst.uuid, **WAIT)
    assert done.state is TaskState.SUCCESSFUL and done.state == "successful"
    assert done.datetime_finished is not None and done.datetime_finished.tzinfo is not None
    assert mgr.get(inst.uuid).state is TaskState.SUCCESSFUL
    assert inst.sync() is inst and inst.state is TaskState.SUCCESSFUL

    clone = mgr.clone(inst.uuid)
    assert (clone.name, clone.arguments, clone.task_type) == (name, {"msg": "hello"}, world.echo.id)
    again = clone.clone()
    more = mgr.clone_many([inst.uuid, inst.uuid])
    assert len({clone.uuid, again.uuid, *(m.uuid for m in more)}) == 4
    for x in [clone, again, *more]:
        assert x.wait_until_finished(**WAIT).state is TaskState.SUCCESSFUL

    listed = mgr.list({"name": name})
    assert len(listed) == 5 and {x.uuid for x in listed} >= {inst.uuid, clone.uuid}
    assert mgr.list({"name": name, "state": "failed"}) == []
    since = inst.datetime_created - dt.timedelta(seconds=1)
    assert len(mgr.list({"name": name, "datetime_created__gte": since})) == 5
    assert len(mgr.list({"name": name, "page": 2, "page_size": 2})) == 2  # saltant-py's page filter


def test_defaults_failures_and_field_errors(world: World) -> None:
    mgr = world.client.executable_task_instances
    inst = mgr.create(world.echo.id, world.queue.id)
    assert inst.arguments == {"msg": "hi"}  # default filled in by the server
    failed = mgr.create(world.failer.id, world.queue.id).wait_until_finished(**WAIT)
    assert failed.state is TaskState.FAILED
    with pytest.raises(BadHttpRequestError) as info:
        mgr.create(world.echo.id, 999999)
    assert info.value.status_code == 400
    assert info.value.message == 'task_queue: Invalid pk "999999" - object does not exist.'
    with pytest.raises(NotFoundError):
        mgr.get(MISSING)
    with pytest.raises(BadHttpRequestError) as info:
        mgr.clone(MISSING)
    assert info.value.status_code in (404, 405)


def test_terminate_and_wait_timeout(world: World) -> None:
    mgr = world.client.executable_task_instances
    slow = mgr.create(world.sleeper.id, world.queue.id, name=unique("slow"))
    with pytest.raises(WaitTimeoutError) as info:
        mgr.wait_until_finished(slow.uuid, refresh_period=0.05, timeout=0.3)
    assert info.value.uuid == slow.uuid
    assert not mgr.get(slow.uuid).state.is_terminal  # the wait left it alone
    told = mgr.terminate(slow.uuid)
    assert told.uuid == slow.uuid
    assert mgr.wait_until_finished(slow.uuid, **WAIT).state is TaskState.TERMINATED
    assert mgr.terminate(slow.uuid).state is TaskState.TERMINATED  # 202 again, unchanged
    pair = [mgr.create(world.sleeper.id, world.queue.id) for _ in range(2)]
    assert [t.uuid for t in mgr.terminate_many([p.uuid for p in pair])] == [p.uuid for p in pair]
    third = mgr.create(world.sleeper.id, world.queue.id)
    third.terminate()
    assert third.wait_until_finished(**WAIT).state is TaskState.TERMINATED


def test_lazy_pagination(world: World) -> None:
    c = world.client
    mgr = c.executable_task_instances
    name = unique("page")
    made = [mgr.create(world.echo.id, world.queue.id, name=name) for _ in range(5)]
    sent = _count_requests(c)
    it = mgr.iter({"name": name}, page_size=2)
    first = next(it)
    assert len(sent) == 1  # one page fetched, no more
    rest = list(it)
    assert len(sent) == 3  # 2 + 2 + 1
    assert {x.uuid for x in [first, *rest]} == {m.uuid for m in made}
    page = mgr.list_page({"name": name}, page=3, page_size=2)
    assert (page.count, page.next, len(page.results)) == (5, None, 1)
    with pytest.raises(NotFoundError, match="Invalid page"):
        mgr.list_page({"name": name}, page=4, page_size=2)
    sent.clear()
    assert mgr.list({"name": unique("nothing")}) == [] and len(sent) == 1
    assert list(mgr.iter({"name": name}, page_size=5)) and len(sent) == 2  # exact fit: one page


def test_container_instances(world: World) -> None:
    mgr = world.client.container_task_instances
    inst = mgr.create(world.container.id, world.queue.id, name=unique("ctr"))
    assert mgr.get(inst.uuid).task_type == world.container.id
    assert [i.uuid for i in mgr.list({"name": inst.name})] == [inst.uuid]
    assert mgr.clone(inst.uuid).name == inst.name
    mgr.terminate(inst.uuid)
    assert mgr.wait_until_finished(inst.uuid, **WAIT).state.is_terminal
    with pytest.raises(NotFoundError):
        world.client.executable_task_instances.get(inst.uuid)


def test_front_end_url(world: World, saltant_server: Any) -> None:
    c = world.client
    inst = c.executable_task_instances.create(world.echo.id, world.queue.id)
    url = c.executable_task_instances.front_end_url(inst.uuid)
    assert url == f"{saltant_server.root_url.rstrip('/')}/executabletaskinstances/{inst.uuid}/"
    assert c.container_task_instances.front_end_url(inst.uuid).endswith(
        f"/containertaskinstances/{inst.uuid}/"
    )
    assert requests.get(url, timeout=10).status_code == 200


def test_wrong_api_root_is_explained(saltant_server: Any) -> None:
    with pytest.raises(NotFoundError, match="API root") as info:
        Client(saltant_server.root_url, saltant_server.token)
    assert info.value.status_code == 404
