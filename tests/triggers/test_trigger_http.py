"""SaltantTaskTrigger against the local saltant server over real HTTP.

The triggers' ``run()`` generators are driven directly in the test's event loop, the way the
triggerer drives them. The connection comes from an ``AIRFLOW_CONN_*`` variable and is read
through the hook, as in production.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from airflow.triggers.base import TriggerEvent

from saltant_provider.client import Client
from saltant_provider.triggers.poller import active_pollers, get_poller
from saltant_provider.triggers.saltant import SaltantTaskEvent, SaltantTaskTrigger, parse_event

from .conftest import ConnFactory, LagMonitor, RequestLog, Types, client_closed, make_types, until

FAST = 0.1
MISSING_UUID = "00000000-0000-4000-8000-000000000000"


async def run_trigger(trigger: SaltantTaskTrigger, timeout: float = 30) -> SaltantTaskEvent:
    """Drive ``run()`` like the triggerer and insist on exactly one event."""

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    events = await asyncio.wait_for(collect(), timeout)
    assert len(events) == 1, events
    return parse_event(events[0])


def trig(conn: str, uuid: str, shared: bool, **kw: Any) -> SaltantTaskTrigger:
    kw.setdefault("poll_interval", FAST)
    kw.setdefault("deadline", time.time() + 60)
    return SaltantTaskTrigger(conn, uuid, shared_polling=shared, **kw)


@pytest.fixture(autouse=True)
def no_leftover_pollers() -> Iterator[None]:
    yield
    assert [p for p in active_pollers() if not p.loop.is_closed()] == []


@pytest.fixture
def quiet_server(saltant_server_factory: Any) -> Any:
    """A server without a worker: instances stay unfinished until a test reports a state."""
    return saltant_server_factory(no_worker=True)


@pytest.fixture
def quiet(quiet_server: Any) -> Iterator[Types]:
    t = make_types(quiet_server)
    yield t
    t.client.close()


# --- outcomes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_success_and_failure_of_real_jobs(
    shared: bool, types: Types, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    ok, bad = await types.acreate(types.ok), await types.acreate(types.bad)
    good, failed = await asyncio.gather(
        run_trigger(trig(conn, ok[0], shared)), run_trigger(trig(conn, bad[0], shared))
    )
    assert (good.status, good.state, good.task_instance_uuid) == ("success", "successful", ok[0])
    assert (failed.status, failed.state) == ("failed", "failed")
    assert ok[0] in good.message and "finished" in failed.message


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_terminated_job(
    shared: bool, types: Types, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    (u,) = await types.acreate(types.slow)
    waiting = asyncio.create_task(run_trigger(trig(conn, u, shared)))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    # The operator terminates (on the worker); the trigger only sees the result.
    await asyncio.to_thread(types.client.executable_task_instances.terminate, u)
    event = await waiting
    assert (event.status, event.state) == ("terminated", "terminated")


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_deadline_gives_timeout_and_leaves_the_job_alone(
    shared: bool, types: Types, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    (u,) = await types.acreate(types.slow)
    try:
        started = time.monotonic()
        event = await run_trigger(trig(conn, u, shared, deadline=time.time() + 0.8))
        assert 0.6 < time.monotonic() - started < 5
        assert event.status == "timeout"
        assert event.state in ("created", "published", "running")
        state = (await asyncio.to_thread(types.client.executable_task_instances.get, u)).state
        assert not state.is_terminal  # a trigger never terminates
    finally:
        await asyncio.to_thread(types.client.executable_task_instances.terminate, u)


# --- errors that end the wait at once ---------------------------------------------------------
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_unknown_uuid_ends_with_a_clear_error(
    shared: bool, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    started = time.monotonic()
    event = await run_trigger(trig(conn, MISSING_UUID, shared))
    assert time.monotonic() - started < 5
    assert event.status == "error" and event.state is None
    assert "404" in event.message and "check the uuid" in event.message


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_wrong_kind_is_an_unknown_uuid(
    shared: bool, types: Types, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    (u,) = await types.acreate(types.ok)
    event = await run_trigger(trig(conn, u, shared, task_kind="container"))
    assert event.status == "error" and "container task instance" in event.message


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_bad_token_ends_with_an_auth_error_without_leaking_it(
    shared: bool, make_conn: ConnFactory, saltant_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bad_token = "f" * 40
    conn = make_conn(saltant_server, token=bad_token)
    event = await run_trigger(trig(conn, MISSING_UUID, shared))
    assert event.status == "error" and "403" in event.message
    assert "check the token" in event.message
    assert bad_token not in event.message and bad_token not in caplog.text
    assert saltant_server.token not in caplog.text


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_missing_connection_ends_with_an_error(shared: bool) -> None:
    event = await run_trigger(trig("saltant_no_such_conn", MISSING_UUID, shared))
    assert event.status == "error" and "saltant_no_such_conn" in event.message


# --- transient faults -------------------------------------------------------------------------
async def test_transient_faults_are_survived(
    saltant_server_factory: Any, make_conn: ConnFactory, request_log: RequestLog, tmp_path: Any
) -> None:
    # Set up on a healthy server, then serve the same database with faults injected.
    db = tmp_path / "saltant.sqlite3"
    healthy = saltant_server_factory(no_worker=True, db=db)
    t = make_types(healthy)
    uuids = [t.create(t.ok) for _ in range(8)]
    t.client.close()
    healthy.stop()
    server = saltant_server_factory(
        no_worker=True, db=db, token=healthy.token, fault_rate=0.3, fault_kinds=["5xx", "drop"]
    )
    t.server = server
    # One try per request: every fault reaches the trigger, none is hidden by client retries.
    conn = make_conn(server, max_tries=1, timeout=5)
    triggers = [trig(conn, u, shared=i % 2 == 0) for i, u in enumerate(uuids)]
    waits = [asyncio.create_task(run_trigger(tr)) for tr in triggers]
    await asyncio.sleep(1.5)
    assert not any(w.done() for w in waits)
    expected = {}
    for i, u in enumerate(uuids):
        expected[u] = ("successful", "failed", "terminated")[i % 3]
        await t.set_state([u], expected[u])
    events = await asyncio.gather(*waits)
    assert {e.task_instance_uuid: e.state for e in events} == expected
    # Many requests failed (5xx or dropped), yet every wait held and ended right.
    assert request_log.faults >= 5, (len(request_log.requests), request_log.faults)


# --- the shared poller ------------------------------------------------------------------------
async def test_fifty_waits_share_one_listing_per_poll(
    quiet: Types, make_conn: ConnFactory, quiet_server: Any, request_log: RequestLog
) -> None:
    conn = make_conn(quiet_server)
    await quiet.acreate(quiet.slow, 20)  # other unfinished work on the server
    uuids = await quiet.acreate(quiet.slow, 50)
    waits = [asyncio.create_task(run_trigger(trig(conn, u, True))) for u in uuids]
    await until(lambda: request_log.gets >= 50)  # every wait registered
    poller = get_poller(conn, "executable")
    assert poller is not None and poller.watch_count == 50
    await until(lambda: poller.stats.polls >= 1)
    assert len(request_log.clients) == 1  # one client for all fifty
    polls0, log0 = poller.stats.polls, len(request_log.requests)
    lag = LagMonitor().start()
    await asyncio.sleep(1.5)
    assert await lag.stop() < 0.1  # fifty waits never hold up the triggerer's loop
    polls = poller.stats.polls - polls0
    window = request_log.kinds() - request_log.__class__(request_log.requests[:log0]).kinds()
    assert polls >= 5
    assert window["list"] in (polls, polls + 1)  # 70 unfinished < one page of 1000
    assert window["GET"] == 0  # nothing finished, nothing to confirm
    assert request_log.gets == 50  # one registration GET each, ever

    finished = uuids[:5]
    await quiet.set_state(finished, "successful")
    done = await asyncio.gather(*waits[:5])
    assert {e.status for e in done} == {"success"}
    await asyncio.sleep(3 * FAST)
    assert request_log.gets == 55  # each finish cost one GET more
    assert poller.watch_count == 45

    await quiet.set_state(uuids[5:], "failed")
    rest = await asyncio.gather(*waits[5:])
    assert {e.status for e in rest} == {"failed"}
    assert get_poller(conn, "executable") is None and poller.closed
    assert client_closed(request_log.clients[0])


async def test_own_polling_costs_one_get_per_wait_per_poll(
    quiet: Types, make_conn: ConnFactory, quiet_server: Any, request_log: RequestLog
) -> None:
    """The comparison: shared_polling=False makes N waits cost N requests per poll."""
    conn = make_conn(quiet_server)
    uuids = await quiet.acreate(quiet.slow, 20)
    waits = [asyncio.create_task(run_trigger(trig(conn, u, False))) for u in uuids]
    deadline = time.monotonic() + 15
    while request_log.gets < len(uuids):  # every wait has built its client and polled once
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    gets0 = request_log.gets
    await asyncio.sleep(1.0)
    per_wait = (request_log.gets - gets0) / len(uuids)
    assert request_log.listings == 0
    assert per_wait >= 1.0 / FAST * 0.5  # ~ one GET per poll interval, each
    assert len(request_log.clients) == 20
    await quiet.set_state(uuids, "successful")
    assert {e.status for e in await asyncio.gather(*waits)} == {"success"}
    assert all(client_closed(c) for c in request_log.clients)


async def test_cancelled_waits_leave_the_poller_and_the_last_stops_it(
    quiet: Types, make_conn: ConnFactory, quiet_server: Any, request_log: RequestLog
) -> None:
    conn = make_conn(quiet_server)
    uuids = await quiet.acreate(quiet.slow, 4)
    waits = [asyncio.create_task(run_trigger(trig(conn, u, True))) for u in uuids]
    await asyncio.sleep(0.4)
    poller = get_poller(conn, "executable")
    assert poller is not None and poller.watch_count == 4
    waits[0].cancel()
    assert isinstance((await asyncio.gather(waits[0], return_exceptions=True))[0],
                      asyncio.CancelledError)  # fmt: skip
    assert poller.watch_count == 3 and uuids[0] not in poller.watched_uuids
    await quiet.set_state([uuids[1]], "successful")
    assert (await waits[1]).status == "success"  # the others are still served
    for w in waits[2:]:
        w.cancel()
    await asyncio.gather(*waits[2:], return_exceptions=True)
    assert poller.closed and get_poller(conn, "executable") is None
    assert client_closed(request_log.clients[0])
    sent = len(request_log.requests)
    await asyncio.sleep(5 * FAST)
    assert len(request_log.requests) == sent  # nothing polls any more


def test_two_event_loops_do_not_share_a_poller(
    types: Types, make_conn: ConnFactory, saltant_server: Any
) -> None:
    conn = make_conn(saltant_server)
    uuids = [types.create(types.slow) for _ in range(2)]
    pollers: list[Any] = []
    events: list[SaltantTaskEvent] = []
    both_polling = threading.Barrier(2, timeout=20)

    async def in_loop(u: str) -> None:
        waiting = asyncio.create_task(run_trigger(trig(conn, u, True)))
        await asyncio.sleep(0.3)
        p = get_poller(conn, "executable")
        assert p is not None and p.loop is asyncio.get_running_loop()
        pollers.append(p)
        await asyncio.to_thread(both_polling.wait)
        await asyncio.to_thread(types.client.executable_task_instances.terminate, u)
        events.append(await waiting)

    threads = [threading.Thread(target=asyncio.run, args=(in_loop(u),)) for u in uuids]
    for th in threads:
        th.start()
    for th in threads:
        th.join(40)
    assert len(pollers) == 2 and pollers[0] is not pollers[1]
    assert all(p.closed for p in pollers)
    assert sorted(e.task_instance_uuid for e in events) == sorted(uuids)
    assert {e.status for e in events} == {"terminated"}


async def test_finishes_between_pages_never_make_a_false_finish(
    quiet: Types, make_conn: ConnFactory, quiet_server: Any, request_log: RequestLog
) -> None:
    """Instances leave the unfinished set while the poller pages through it.

    Offset pages then shift: page 2 starts later than it should and skips instances. Skipped
    ones must be confirmed by GET (still running), never declared finished.
    """
    conn = make_conn(quiet_server)
    uuids = await quiet.acreate(quiet.slow, 30)  # newest first: uuids[29] .. uuids[0]
    page_size = 10
    first_page = uuids[29:19:-1]
    armed = asyncio.Event()

    waits = {u: asyncio.create_task(run_trigger(trig(conn, u, True))) for u in uuids}
    await until(lambda: request_log.gets >= 30)  # every wait registered
    poller = get_poller(conn, "executable")
    assert poller is not None
    poller.page_size = page_size
    manager = request_log.clients[0].executable_task_instances
    list_page = manager.list_page

    async def racing_list_page(filters: Any, page: int = 1, page_size: int = 10) -> Any:
        result = await list_page(filters, page=page, page_size=page_size)
        if page == 1 and armed.is_set():
            armed.clear()
            await quiet.set_state(first_page[:5], "successful")  # between page 1 and page 2
        return result

    manager.list_page = racing_list_page
    armed.set()
    finished = [waits[u] for u in first_page[:5]]
    events = await asyncio.wait_for(asyncio.gather(*finished), 10)
    assert {e.status for e in events} == {"success"}
    await asyncio.sleep(5 * FAST)
    assert poller.stats.skipped_confirmed_unfinished >= 5  # the shift happened and was caught
    still = [u for u in uuids if u not in first_page[:5]]
    assert not any(waits[u].done() for u in still)  # no false finish
    await quiet.set_state(still, "terminated")
    rest = await asyncio.gather(*(waits[u] for u in still))
    assert {e.status for e in rest} == {"terminated"}
    assert math.ceil(30 / page_size) <= request_log.listings


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_a_lasting_outage_ends_with_an_error_naming_it(
    shared: bool,
    quiet: Types,
    quiet_server: Any,
    make_conn: ConnFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SaltantTaskTrigger, "max_consecutive_errors", 4)
    monkeypatch.setattr(SaltantTaskTrigger, "error_window", 0.5)
    conn = make_conn(quiet_server, max_tries=1, timeout=2)
    (u,) = await quiet.acreate(quiet.slow)
    waiting = asyncio.create_task(run_trigger(trig(conn, u, shared)))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    started = time.monotonic()
    await asyncio.to_thread(quiet_server.stop)  # the server goes away and stays away
    event = await asyncio.wait_for(waiting, 20)
    assert time.monotonic() - started >= 0.5  # not on the first failure
    assert event.status == "error" and event.state in ("created", "published", "running")
    assert "consecutive errors" in event.message and "SaltantConnectionError" in event.message


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_malformed_uuid_ends_with_an_error_without_a_request(
    shared: bool, make_conn: ConnFactory, saltant_server: Any, request_log: RequestLog
) -> None:
    conn = make_conn(saltant_server)
    event = await run_trigger(trig(conn, "not-a-uuid", shared))
    assert event.status == "error" and "not-a-uuid" in event.message
    assert request_log.requests == []


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_a_rotated_token_is_read_again_from_the_connection(
    shared: bool,
    types: Types,
    make_conn: ConnFactory,
    saltant_server: Any,
    request_log: RequestLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = make_conn(saltant_server, token="e" * 40)  # the old token, no longer valid
    (u,) = await types.acreate(types.ok)

    def rotate(response: httpx.Response) -> None:
        if response.status_code == 403:  # the admin put the new token in the connection
            value = {"conn_type": "saltant", "host": saltant_server.url}
            monkeypatch.setenv(
                f"AIRFLOW_CONN_{conn.upper()}",
                json.dumps({**value, "password": saltant_server.token}),
            )

    request_log.on_response.append(rotate)
    event = await run_trigger(trig(conn, u, shared))
    assert (event.status, event.state) == ("success", "successful")
    assert len(request_log.clients) == 2 and 403 in request_log.statuses


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own"])
async def test_container_instances_are_watched_too(
    shared: bool, make_conn: ConnFactory, saltant_server: Any, request_log: RequestLog
) -> None:
    # The local worker runs containers only when docker is on PATH; otherwise they fail at once.
    # Either way the trigger must report the container instance's own end state.
    c = Client(saltant_server.url, saltant_server.token, max_tries=3, backoff_base=0.05)
    try:
        ctype = c.container_task_types.create(
            name=f"ctype-{uuidlib.uuid4().hex[:8]}",
            command_to_run="true",
            container_image="busybox:latest",
            container_type="docker",
            logs_path="/logs",
            results_path="/results",
        )
        wl = c.task_whitelists.create(
            name=f"cwl-{uuidlib.uuid4().hex[:8]}", whitelisted_container_task_types=[ctype.id]
        )
        q = c.task_queues.create(name=f"cq-{uuidlib.uuid4().hex[:8]}", whitelists=[wl.id])
        inst = c.container_task_instances.create(ctype.id, q.id)
        conn = make_conn(saltant_server)
        event = await run_trigger(trig(conn, str(inst.uuid), shared, task_kind="container"))
        final = c.container_task_instances.get(str(inst.uuid)).state
        assert event.task_kind == "container" and event.state == final.value
        assert event.status in ("success", "failed")
        assert all("containertaskinstances" in path for _, path, _ in request_log.requests)
    finally:
        c.close()
