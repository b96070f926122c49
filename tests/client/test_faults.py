"""Fault paths (retries, timeouts, odd bodies, secrecy) against a scripted local HTTP server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from saltant_provider.client import AsyncClient, Client, TaskState
from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadHttpRequestError,
    InvalidRequestError,
    SaltantConnectionError,
    WaitTimeoutError,
)

from .faultserver import DROP, FaultServer, Reply, serve

TOKEN = "0123456789abcdef0123456789abcdef01234567"
UUID = "af77cca4-8a9a-4366-902b-9615a611be71"
INSTANCE = {
    "uuid": UUID,
    "user": "admin",
    "name": "nightly",
    "state": "running",
    "datetime_created": "2026-11-29T21:14:59.678829Z",
    "datetime_finished": None,
    "arguments": {"msg": "hello"},
    "task_queue": 1,
    "task_type": 4,
    "new_field": [1],
}
HTML_500 = (
    b"<!DOCTYPE html><html><head><title>Server Error (500)</title></head><body>"
    + b"<p>trace</p>" * 5000
    + b"</body></html>"
)


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    yield from serve()


def make(fault: FaultServer, **kw: Any) -> Client:
    kw.setdefault("max_tries", 4)
    kw.setdefault("backoff_base", 0.01)
    client = Client(fault.url, TOKEN, test_if_authenticated=False, **kw)
    client._transport.sleep = lambda s: None  # keep the suite fast; delays are asserted in core
    return client


def amake(fault: FaultServer, **kw: Any) -> AsyncClient:
    kw.setdefault("max_tries", 4)
    kw.setdefault("backoff_base", 0.01)
    return AsyncClient(fault.url, TOKEN, **kw)


# ---------------------------------------------------------------- sync
def test_get_is_retried_on_5xx_and_429_then_succeeds(fault: FaultServer) -> None:
    fault.script(
        Reply(503, b""), Reply(429, {"detail": "slow"}), Reply(500, HTML_500), Reply(200, INSTANCE)
    )
    inst = make(fault).executable_task_instances.get(UUID)
    assert inst.state is TaskState.RUNNING and len(fault.seen) == 4


def test_retry_after_is_honoured(fault: FaultServer) -> None:
    fault.script(Reply(429, b"", {"Retry-After": "3"}), Reply(200, INSTANCE))
    client = make(fault)
    slept: list[float] = []
    client._transport.sleep = slept.append
    client.executable_task_instances.get(UUID)
    assert slept and slept[0] >= 3


def test_tries_are_capped_by_max_tries(fault: FaultServer) -> None:
    fault.script(Reply(502, b"bad gateway", {"Content-Type": "text/plain"}))
    with pytest.raises(BadHttpRequestError) as info:
        make(fault, max_tries=3).task_queues.get(id=1)
    assert info.value.status_code == 502 and len(fault.seen) == 3


def test_create_and_clone_are_never_resent(fault: FaultServer) -> None:
    client = make(fault)
    fault.script(Reply(502, b""))
    with pytest.raises(BadHttpRequestError):
        client.executable_task_instances.create(1, 1, {"a": 1})
    assert len(fault.seen) == 1
    fault.script(Reply(action=DROP))
    with pytest.raises(SaltantConnectionError):
        client.executable_task_instances.clone(UUID)
    assert len(fault.seen) == 1


def test_terminate_put_patch_are_retried(fault: FaultServer) -> None:
    client = make(fault)
    fault.script(Reply(action=DROP), Reply(202, INSTANCE))
    assert client.executable_task_instances.terminate(UUID).uuid == UUID
    assert [s.path for s in fault.seen] == [f"/api/executabletaskinstances/{UUID}/terminate/"] * 2
    queue = {"id": 1, "name": "q", "user": "admin"}
    fault.script(Reply(503), Reply(200, queue))
    assert client.task_queues.patch(1, description="d").name == "q"
    assert len(fault.seen) == 2 and fault.seen[0].method == "PATCH"


def test_request_timeout(fault: FaultServer) -> None:
    fault.script(Reply(200, INSTANCE, delay=1.0))
    with pytest.raises(SaltantConnectionError) as info:
        make(fault, default_timeout=0.2, max_tries=1).executable_task_instances.get(UUID)
    assert "Timeout" in str(info.value)


def test_connection_refused_is_a_client_error() -> None:
    with FaultServer() as gone:
        url = gone.url
    with pytest.raises(SaltantConnectionError) as info:
        Client(url, TOKEN, test_if_authenticated=False, max_tries=2, backoff_base=0.001).users.get(
            "admin"
        )
    assert info.value.status_code is None and not info.value.request_sent


def test_empty_405_and_html_pages_are_readable(fault: FaultServer) -> None:
    client = make(fault, max_tries=1)
    fault.script(Reply(405, b"", {"Content-Type": "text/html"}))
    with pytest.raises(BadHttpRequestError, match="empty 405") as info:
        client.container_task_instances.clone(UUID)
    assert info.value.status_code == 405
    fault.script(Reply(500, HTML_500, {"Content-Type": "text/html"}))
    with pytest.raises(BadHttpRequestError, match=r"HTML error page .*Server Error \(500\)") as err:
        client.container_task_instances.get(UUID)
    assert len(str(err.value)) < 400


def test_success_with_garbage_body_is_a_client_error(fault: FaultServer) -> None:
    fault.script(Reply(200, {"uuid": UUID}))
    with pytest.raises(BadHttpRequestError, match="state"):
        make(fault).executable_task_instances.get(UUID)
    fault.script(Reply(200, b"<html>proxy login</html>", {"Content-Type": "text/html"}))
    with pytest.raises(BadHttpRequestError, match="expected a JSON body"):
        make(fault).executable_task_instances.get(UUID)


def test_unknown_fields_are_ignored_and_datetimes_aware(fault: FaultServer) -> None:
    fault.script(Reply(200, INSTANCE))
    inst = make(fault).executable_task_instances.get(UUID)
    assert inst.datetime_created is not None and inst.datetime_created.tzinfo is not None
    assert not hasattr(inst, "new_field")


def test_wait_times_out_and_leaves_the_task_alone(fault: FaultServer) -> None:
    fault.script(Reply(200, INSTANCE))
    with pytest.raises(WaitTimeoutError) as info:
        make(fault).executable_task_instances.wait_until_finished(
            UUID, refresh_period=0.05, timeout=0.3
        )
    assert info.value.uuid == UUID and info.value.last_state == "running"
    assert all(s.method == "GET" for s in fault.seen) and len(fault.seen) >= 2


def test_token_never_leaks(fault: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make(fault, max_tries=2)
    fault.script(Reply(403, {"detail": "Invalid token."}))
    with pytest.raises(AuthenticationError) as auth:
        client.test_authentication()
    fault.script(Reply(503, b""), Reply(400, {"name": ["bad"]}))
    with pytest.raises(BadHttpRequestError) as bad:
        client.task_queues.create("x y")
    texts = [
        str(auth.value),
        repr(auth.value),
        str(bad.value),
        repr(client),
        repr(client.task_queues),
        caplog.text,
    ]
    assert not any(TOKEN in t for t in texts)
    assert fault.seen[0].headers["Authorization"] == f"Token {TOKEN}"
    assert "GET " in caplog.text and " -> 403 in " in caplog.text and "/api/users/" in caplog.text
    with pytest.raises(InvalidRequestError) as bad_token:
        Client(fault.url, "bad token", test_if_authenticated=False)
    assert "bad token" not in str(bad_token.value)


def test_bad_input_is_refused_before_any_request(fault: FaultServer) -> None:
    client = make(fault)
    fault.script(Reply(200, INSTANCE))
    for call in [
        lambda: client.executable_task_instances.get("not-a-uuid"),
        lambda: client.executable_task_instances.create(1, 1, arguments=[1, 2]),  # type: ignore[arg-type]
        lambda: client.executable_task_instances.create(1, 1, arguments={"x": {1, 2}}),
        lambda: client.executable_task_instances.list(filters="state=running"),  # type: ignore[arg-type]
        lambda: client.executable_task_instances.list({"uuid__in": [UUID]}),
        lambda: client.task_queues.get(id=1, name="q"),
        lambda: client.executable_task_types.get(),
        lambda: client.executable_task_instances.wait_until_finished(UUID, timeout=-1),
    ]:
        with pytest.raises(InvalidRequestError):
            call()
    assert fault.seen == []
    with pytest.raises(InvalidRequestError, match="http"):
        Client("127.0.0.1:8000/api/", TOKEN, test_if_authenticated=False)
    with pytest.raises(InvalidRequestError, match="CA bundle"):
        Client(fault.url, TOKEN, test_if_authenticated=False, verify="/nonexistent/ca.pem")


# ---------------------------------------------------------------- async
async def test_async_get_is_retried_and_create_never_is(fault: FaultServer) -> None:
    fault.script(Reply(503, b""), Reply(action=DROP), Reply(200, INSTANCE))
    async with amake(fault) as ac:
        ac._transport.sleep = _no_sleep  # type: ignore[assignment]
        inst = await ac.executable_task_instances.get(UUID)
        assert inst.state is TaskState.RUNNING and len(fault.seen) == 3
        fault.script(Reply(502, b""), Reply(202, INSTANCE))
        assert (await ac.container_task_instances.terminate(UUID)).uuid == UUID
        assert len(fault.seen) == 2


async def test_async_retry_after_and_max_tries(fault: FaultServer) -> None:
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    fault.script(Reply(429, b"", {"Retry-After": "2"}))
    async with amake(fault, max_tries=3) as ac:
        ac._transport.sleep = record  # type: ignore[assignment]
        with pytest.raises(BadHttpRequestError) as info:
            await ac.executable_task_instances.get(UUID)
    assert info.value.status_code == 429 and len(fault.seen) == 3
    assert len(slept) == 2 and min(slept) >= 2


async def test_async_errors_timeouts_and_waits(fault: FaultServer) -> None:
    async with amake(fault, max_tries=1, default_timeout=0.2) as ac:
        fault.script(Reply(200, INSTANCE, delay=1.0))
        with pytest.raises(SaltantConnectionError):
            await ac.executable_task_instances.get(UUID)
        fault.script(Reply(500, HTML_500, {"Content-Type": "text/html"}))
        with pytest.raises(BadHttpRequestError, match="HTML error page"):
            await ac.executable_task_instances.get(UUID)
        fault.script(Reply(403, {"detail": "Invalid token."}))
        with pytest.raises(AuthenticationError) as auth:
            await ac.test_authentication()
        assert TOKEN not in str(auth.value) and TOKEN not in repr(ac)
        fault.script(Reply(200, INSTANCE))
        with pytest.raises(WaitTimeoutError):
            await ac.executable_task_instances.wait_until_finished(
                UUID, refresh_period=0.05, timeout=0.2
            )
        assert {s.method for s in fault.seen} == {"GET"}
        with pytest.raises(InvalidRequestError):
            await ac.executable_task_instances.get("nope")


async def _no_sleep(delay: float) -> None:
    return None


def test_list_keeps_one_copy_when_a_new_instance_shifts_the_pages(fault: FaultServer) -> None:
    a, b, c = ({**INSTANCE, "uuid": f"00000000-0000-4000-8000-00000000000{i}"} for i in (1, 2, 3))
    fault.script(
        Reply(200, {"count": 3, "next": fault.url + "x/?page=2", "results": [a, b]}),
        Reply(200, {"count": 4, "next": None, "results": [b, c]}),
    )
    listed = make(fault).executable_task_instances.list({"page_size": 2})
    assert [i.uuid for i in listed] == [a["uuid"], b["uuid"], c["uuid"]]
    assert [s.path.split("?")[1] for s in fault.seen] == [
        "page=1&page_size=2",
        "page=2&page_size=2",
    ]


async def test_netrc_never_replaces_the_token(
    fault: FaultServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1\nlogin someone\npassword secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    fault.script(Reply(200, INSTANCE))
    client = make(fault)
    client.executable_task_instances.get(UUID)
    async with amake(fault) as ac:
        await ac.executable_task_instances.get(UUID)
    assert [s.headers["Authorization"] for s in fault.seen] == [f"Token {TOKEN}"] * 2
    assert TOKEN not in repr(client.session.auth) and TOKEN not in str(client.session.headers)
