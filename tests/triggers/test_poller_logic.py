"""The shared poller and the trigger's wait policy against an in-memory client (no HTTP).

These pin down the orderings a real server cannot produce on cue: a finish exactly between two
pages, a page that vanishes mid-listing, an error for exactly one uuid.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadHttpRequestError,
    NotFoundError,
    SaltantConnectionError,
)
from saltant_provider.client.states import TaskState
from saltant_provider.triggers import poller as poller_mod
from saltant_provider.triggers.poller import (
    Observation,
    SharedTaskPoller,
    Watch,
    active_pollers,
    format_created_bound,
    get_poller,
    watch,
)
from saltant_provider.triggers.saltant import SaltantTaskTrigger, parse_event

from .fakes import FakeClient, factory_for

CONN = "fake_conn"
INTERVAL = 0.05


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def drain(w: Watch) -> list[Observation]:
    out = []
    while not w._queue.empty():
        out.append(w._queue.get_nowait())
    return out


@contextlib.asynccontextmanager
async def watching(
    client: FakeClient, uuids: list[str], interval: float = INTERVAL, page_size: int | None = None
) -> AsyncIterator[tuple[SharedTaskPoller, list[Watch]]]:
    async with contextlib.AsyncExitStack() as stack:
        watches = []
        for u in uuids:
            watches.append(
                await stack.enter_async_context(
                    watch(CONN, "executable", u, interval, factory_for(client))
                )
            )
            p = get_poller(CONN, "executable")
            assert p is not None
            if page_size is not None:
                p.page_size = page_size
        assert p is not None
        yield p, watches
    assert get_poller(CONN, "executable") is None


@pytest.fixture(autouse=True)
def no_leftover_pollers() -> Any:
    yield
    assert [p for p in active_pollers() if not p.loop.is_closed()] == []


async def test_many_waits_cost_one_listing_per_poll_and_one_get_per_finish() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    uuids = [m.add() for _ in range(50)]
    for _ in range(120):  # unwatched unfinished instances share the listing
        m.add()
    async with watching(client, uuids) as (p, watches):
        await until(lambda: p.stats.polls >= 5)
        polls = p.stats.polls
        assert m.count("get") == 50  # one registration GET each
        assert m.count("list") in (polls, polls + 1)  # one page (170 < 1000) per poll
        listing = next(args for name, args in m.calls if name == "list")
        assert listing["state__in"] == "created,published,running"
        assert listing["datetime_created__gte"] == format_created_bound(
            m.instances[uuids[0]].datetime_created
        )
        finished = uuids[10:13]
        for u in finished:
            m.finish(u, TaskState.FAILED)
        before = p.stats.polls
        await until(lambda: p.stats.polls >= before + 3)
        assert m.count("get") == 53  # each finish cost exactly one more GET
        for u, w in zip(uuids, watches, strict=True):
            seen = drain(w)
            assert all(o.error is None for o in seen)
            if u in finished:
                assert seen[-1].state is TaskState.FAILED
            else:
                assert {o.state for o in seen} == {TaskState.RUNNING}
    assert client.closed


async def test_finish_between_pages_never_declares_a_false_finish() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    uuids = [m.add() for _ in range(30)]  # newest first: uuids[29] .. uuids[0]
    page1 = uuids[29:19:-1]
    armed = {"on": False}

    async def finish_first_five_after_page_one(page: int) -> None:
        if armed["on"] and page == 1:
            armed["on"] = False
            for u in page1[:5]:
                m.finish(u)

    m.after_page = finish_first_five_after_page_one
    async with watching(client, uuids, page_size=10) as (p, watches):
        await until(lambda: p.stats.polls >= 1)
        for w in watches:
            drain(w)
        base = p.stats.polls
        armed["on"] = True
        await until(lambda: p.stats.polls >= base + 2 and not armed["on"])
        await until(lambda: p.stats.polls >= base + 3)
        # The shift hid five running instances from the listing; GETs proved them running.
        assert p.stats.skipped_confirmed_unfinished == 5
        by_uuid = dict(zip(uuids, watches, strict=True))
        for u in uuids:
            seen = drain(by_uuid[u])
            assert all(o.error is None for o in seen)
            if u in page1[:5]:
                assert seen[-1].state is TaskState.SUCCESSFUL
            else:
                assert TaskState.SUCCESSFUL not in {o.state for o in seen}, u


async def test_a_page_that_vanishes_mid_listing_ends_it_without_error() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    uuids = [m.add() for _ in range(30)]
    armed = {"on": False}

    async def finish_fifteen_after_page_two(page: int) -> None:
        if armed["on"] and page == 2:
            armed["on"] = False
            for u in uuids[:15]:
                m.finish(u, TaskState.TERMINATED)

    m.after_page = finish_fifteen_after_page_two
    async with watching(client, uuids, page_size=10) as (p, watches):
        await until(lambda: p.stats.polls >= 1)
        armed["on"] = True
        base = p.stats.polls
        await until(lambda: p.stats.polls >= base + 3)
        assert not p.stats.errors
        for u, w in zip(uuids, watches, strict=True):
            seen = drain(w)
            assert all(o.error is None for o in seen)
            expected = TaskState.TERMINATED if u in uuids[:15] else TaskState.RUNNING
            assert seen[-1].state is expected


async def test_already_finished_and_unknown_uuids_are_answered_at_registration() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    done = m.add(TaskState.SUCCESSFUL)
    running = m.add()
    unknown = "00000000-0000-4000-8000-000000000000"
    async with watching(client, [done, running, unknown]) as (_p, (w_done, w_run, w_unk)):
        assert (await asyncio.wait_for(w_done.next(), 2)).state is TaskState.SUCCESSFUL
        assert (await asyncio.wait_for(w_run.next(), 2)).state is TaskState.RUNNING
        obs = await asyncio.wait_for(w_unk.next(), 2)
        assert isinstance(obs.error, NotFoundError) and not obs.retryable


async def test_listing_error_reaches_every_watcher_and_get_error_only_its_own() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    a, b, c = m.add(), m.add(), m.add()
    async with watching(client, [a, b, c]) as (p, (wa, wb, wc)):
        await until(lambda: p.stats.polls >= 1)
        for w in (wa, wb, wc):
            drain(w)
        m.list_errors.append(BadHttpRequestError("boom", status_code=502))
        base = p.stats.polls
        await until(lambda: p.stats.polls >= base + 2)
        for w in (wa, wb, wc):
            seen = drain(w)
            errors = [o for o in seen if o.error is not None]
            assert len(errors) == 1 and errors[0].retryable
            assert seen[-1].state is TaskState.RUNNING
        # b finishes; its confirming GET fails once (retryable): only b hears of it.
        m.finish(b)
        m.get_errors[b] = SaltantConnectionError("connection reset")
        base = p.stats.polls
        await until(lambda: p.stats.polls >= base + 3)
        seen_b = drain(wb)
        assert next(o for o in seen_b if o.error is not None).retryable
        assert seen_b[-1].state is TaskState.SUCCESSFUL
        for w in (wa, wc):
            assert all(o.error is None for o in drain(w))


async def test_a_lasting_403_ends_every_wait_after_one_fresh_client() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    a, b = m.add(), m.add()
    opened: list[FakeClient] = []

    async def factory() -> FakeClient:
        opened.append(client)
        return client

    async with contextlib.AsyncExitStack() as stack:
        wa = await stack.enter_async_context(watch(CONN, "executable", a, INTERVAL, factory))
        wb = await stack.enter_async_context(watch(CONN, "executable", b, INTERVAL, factory))
        p = get_poller(CONN, "executable")
        assert p is not None
        await until(lambda: p.stats.polls >= 1)
        denied = AuthenticationError("Invalid token.", status_code=403)
        m.list_errors.extend([denied, denied])
        for w in (wa, wb):
            errors: list[Observation] = []
            while not errors or errors[-1].retryable:
                o = await asyncio.wait_for(w.next(), 2)
                if o.error is not None:
                    errors.append(o)
            # The first 403 may be a rotated token: the connection is read again, once.
            assert [e.retryable for e in errors] == [True, False]
            assert all(isinstance(e.error, AuthenticationError) for e in errors)
        assert len(opened) == 2


async def test_a_rotated_token_is_picked_up_by_reading_the_connection_again() -> None:
    old, new = FakeClient(), FakeClient()
    u, other = old.executable_task_instances.add(), old.executable_task_instances.add()
    new.executable_task_instances.instances = old.executable_task_instances.instances
    clients = [old, new]

    async def factory() -> FakeClient:
        return clients.pop(0)

    async with (
        watch(CONN, "executable", u, INTERVAL, factory) as w,
        watch(CONN, "executable", other, INTERVAL, factory),
    ):
        p = get_poller(CONN, "executable")
        assert p is not None
        await until(lambda: p.stats.polls >= 1)
        old.executable_task_instances.list_errors.extend(
            [AuthenticationError("Invalid token.", status_code=403)] * 5
        )
        await until(lambda: old.closed)
        new.executable_task_instances.finish(u, TaskState.TERMINATED)
        while (o := await asyncio.wait_for(w.next(), 2)).state is not TaskState.TERMINATED:
            assert o.error is None or o.retryable
    assert not clients and new.closed


async def test_poll_interval_is_the_smallest_of_the_watchers() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    slow, fast = m.add(), m.add()
    async with watch(CONN, "executable", slow, 10.0, factory_for(client)):
        p = get_poller(CONN, "executable")
        assert p is not None and p.poll_interval == 10.0
        await until(lambda: m.count("get") == 1)
        await asyncio.sleep(0.2)
        assert p.stats.polls == 0
        async with watch(CONN, "executable", fast, 0.05, factory_for(client)):
            assert get_poller(CONN, "executable") is p and p.poll_interval == 0.05
            await until(lambda: p.stats.polls >= 3)
        assert p.poll_interval == 10.0


async def test_cancelled_waits_leave_and_the_last_one_stops_the_poller() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    uuids = [m.add() for _ in range(3)]

    async def wait_forever(u: str) -> None:
        async with watch(CONN, "executable", u, INTERVAL, factory_for(client)) as w:
            while True:
                await w.next()

    tasks = [asyncio.create_task(wait_forever(u)) for u in uuids]
    await until(lambda: (p := get_poller(CONN, "executable")) is not None and p.stats.polls >= 2)
    p = get_poller(CONN, "executable")
    assert p is not None and p.watch_count == 3
    tasks[0].cancel()
    await asyncio.gather(tasks[0], return_exceptions=True)
    assert p.watch_count == 2 and uuids[0] not in p.watched_uuids
    assert not client.closed
    for t in tasks[1:]:
        t.cancel()
    results = await asyncio.gather(*tasks[1:], return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert p.closed and client.closed
    assert get_poller(CONN, "executable") is None
    calls = len(m.calls)
    await asyncio.sleep(0.2)
    assert len(m.calls) == calls  # nothing polls any more


async def test_kinds_and_connections_get_their_own_pollers() -> None:
    client = FakeClient()
    u = client.executable_task_instances.add()
    async with (
        watch(CONN, "executable", u, INTERVAL, factory_for(client)),
        watch(CONN, "container", u, INTERVAL, factory_for(client)),
        watch("other", "executable", u, INTERVAL, factory_for(client)),
    ):
        pollers = {
            id(get_poller(CONN, "executable")),
            id(get_poller(CONN, "container")),
            id(get_poller("other", "executable")),
        }
        assert len(pollers) == 3


def test_two_event_loops_never_share_a_poller() -> None:
    client = FakeClient()
    u = client.executable_task_instances.add()
    seen: list[SharedTaskPoller] = []
    ready = threading.Barrier(2, timeout=10)

    async def in_loop() -> None:
        async with watch(CONN, "executable", u, INTERVAL, factory_for(client)):
            p = get_poller(CONN, "executable")
            assert p is not None and p.loop is asyncio.get_running_loop()
            seen.append(p)
            await asyncio.to_thread(ready.wait)  # both loops hold a live poller now
            await until(lambda: p.stats.polls >= 1)

    threads = [threading.Thread(target=asyncio.run, args=(in_loop(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert all(p.closed for p in seen)
    assert poller_mod._registry == {}


async def test_client_that_cannot_be_built_ends_the_waits_with_the_reason() -> None:
    async def no_client() -> Any:
        raise ValueError("saltant connection 'x' has no host")

    async with watch(CONN, "executable", "u-1", INTERVAL, no_client) as w:
        o = await asyncio.wait_for(w.next(), 2)
        assert isinstance(o.error, ValueError) and not o.retryable
        p = get_poller(CONN, "executable")
        assert p is None or p.closed  # a dead poller takes no new watchers


# --- the trigger's wait policy ---------------------------------------------------------------
class Scripted:
    """A source of observations played from a list; then it hangs (like a quiet server)."""

    def __init__(self, *observations: Observation) -> None:
        self.items = list(observations)

    async def next(self) -> Observation:
        if self.items:
            await asyncio.sleep(0)
            return self.items.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


def trigger(**kw: Any) -> SaltantTaskTrigger:
    t = SaltantTaskTrigger("c", "u-1", **kw)
    return t


RUNNING = Observation.of_state(TaskState.RUNNING)
FLAKY = Observation.of_error(BadHttpRequestError("bad gateway", status_code=502))


async def test_transient_errors_are_survived() -> None:
    t = trigger()
    source = Scripted(RUNNING, FLAKY, FLAKY, FLAKY, FLAKY, RUNNING, FLAKY, FLAKY, FLAKY,
                      Observation.of_state("successful"))  # fmt: skip
    event = parse_event(await t._wait(source))
    assert event.status == "success" and event.state == "successful"


async def test_persistent_transient_errors_end_with_an_error_naming_the_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SaltantTaskTrigger, "max_consecutive_errors", 3)
    monkeypatch.setattr(SaltantTaskTrigger, "error_window", 0.0)
    t = trigger()
    last = Observation.of_error(BadHttpRequestError("service unavailable", status_code=503))
    event = parse_event(await t._wait(Scripted(RUNNING, FLAKY, FLAKY, last, RUNNING)))
    assert event.status == "error" and event.state == "running"
    assert "3 consecutive errors" in event.message and "service unavailable" in event.message


async def test_error_streak_must_also_last_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SaltantTaskTrigger, "max_consecutive_errors", 2)
    monkeypatch.setattr(SaltantTaskTrigger, "error_window", 3600.0)
    t = trigger()
    event = parse_event(await t._wait(Scripted(*[FLAKY] * 20, Observation.of_state("failed"))))
    assert event.status == "failed"


@pytest.mark.parametrize(
    ("exc", "hint"),
    [
        (NotFoundError("Not found.", status_code=404), "check the uuid"),
        (AuthenticationError("Invalid token.", status_code=403), "check the token"),
    ],
)
async def test_non_retryable_error_ends_at_once(exc: BaseException, hint: str) -> None:
    event = parse_event(await trigger()._wait(Scripted(RUNNING, Observation.of_error(exc))))
    assert event.status == "error" and hint in event.message and "connection 'c'" in event.message


async def test_deadline_gives_timeout_with_the_last_state() -> None:
    t = trigger(deadline=time.time() + 0.2)
    started = time.monotonic()
    event = parse_event(await t._wait(Scripted(Observation.of_state("published"))))
    assert 0.1 < time.monotonic() - started < 2
    assert event.status == "timeout" and event.state == "published"
    assert "deadline" in event.message and "published" in event.message


async def test_two_waits_for_one_uuid_are_both_served() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    u = m.add()
    async with watch(CONN, "executable", u, INTERVAL, factory_for(client)) as first:
        async with watch(CONN, "executable", u, INTERVAL, factory_for(client)) as second:
            p = get_poller(CONN, "executable")
            assert p is not None and p.watch_count == 2 and p.watched_uuids == {u}
            assert (await asyncio.wait_for(second.next(), 2)).state is TaskState.RUNNING
            await until(lambda: p.stats.polls >= 1)
        assert p.watch_count == 1 and not p.closed  # the other wait is still served
        drain(first)
        m.finish(u, TaskState.FAILED)
        while (o := await asyncio.wait_for(first.next(), 2)).state is not TaskState.FAILED:
            assert o.error is None


async def test_retry_after_of_a_listing_is_honoured() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    u, other = m.add(), m.add()  # two watched, one page: the poller lists
    async with watching(client, [u, other]) as (p, (w, _)):
        await until(lambda: p.stats.polls >= 1)
        m.list_errors.append(
            BadHttpRequestError("slow down", status_code=429, retry_after=0.5, method="GET")
        )
        base = p.stats.polls
        await until(lambda: p.stats.polls >= base + 1 and bool(p.stats.errors))
        t0 = time.monotonic()
        await until(lambda: p.stats.polls >= base + 2)
        assert time.monotonic() - t0 >= 0.45  # not the 0.05 s poll interval
        seen = drain(w)
        assert any(o.error is not None and o.retry_after == 0.5 for o in seen)


async def test_slow_listings_do_not_stretch_the_poll_period() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    uuids = [m.add(), m.add()]  # two watched, one page: the poller lists
    original = m.list_page
    starts: list[float] = []

    async def slow_list_page(*args: Any, **kwargs: Any) -> Any:
        starts.append(time.monotonic())
        await asyncio.sleep(0.06)
        return await original(*args, **kwargs)

    m.list_page = slow_list_page  # type: ignore[method-assign]
    async with watching(client, uuids, interval=0.2) as (p, _):
        await until(lambda: p.stats.polls >= 7)
    gaps = sorted(b - a for a, b in itertools.pairwise(starts))
    median = gaps[len(gaps) // 2]
    assert 0.17 <= median <= 0.23, gaps  # one poll per 0.2 s, not per 0.26 s


async def test_few_waits_among_many_unfinished_get_each_instead_of_listing() -> None:
    client = FakeClient()
    m = client.executable_task_instances
    watched = [m.add() for _ in range(2)]
    for _ in range(25):  # newer unfinished instances: 27 in all, 3 pages of 10
        m.add()
    async with watching(client, watched, page_size=10) as (p, watches):
        await until(lambda: p.stats.polls >= 6)
        lists, gets = m.count("list"), m.count("get")
        assert lists == 3  # the first poll listed (3 pages) and learned the count
        assert p.stats.get_polls >= 5 and gets >= 2 + 2 * 5  # then 2 GETs per poll, not 3 pages
        m.finish(watched[0], TaskState.FAILED)
        while (o := await asyncio.wait_for(watches[0].next(), 2)).state is not TaskState.FAILED:
            assert o.error is None
        more = [m.add() for _ in range(5)]  # watched outnumber the pages again: back to listing
        async with contextlib.AsyncExitStack() as stack:
            for u in more:
                await stack.enter_async_context(
                    watch(CONN, "executable", u, INTERVAL, factory_for(client))
                )
            base = p.stats.polls
            await until(lambda: p.stats.polls >= base + 3)
            assert m.count("list") > lists
            assert p.stats.skipped_confirmed_unfinished == 0
