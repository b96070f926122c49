"""Shared polling of saltant task instances for many deferred waits in one event loop.

saltant cannot filter task instances by uuid, so one request per waiting task and poll would cost
N requests for N waits. A :class:`SharedTaskPoller` serves every wait of one connection and task
kind in one event loop instead:

- on registration it GETs the new uuid once (learning its ``datetime_created`` and whether it
  has already finished);
- each poll it lists the *unfinished* instances (``state__in=created,published,running``, created
  no earlier than the oldest watched instance) in large pages;
- a watched instance missing from that listing is confirmed by a GET before anything is declared:
  offset pages shift while instances leave the unfinished set, so absence alone proves nothing.

So while nothing finishes, N waits cost ``min(N, ceil(unfinished / page_size))`` requests per
poll (with few waits and many unfinished instances it GETs each instead of listing), and each
finish costs one GET more. The poller only reads; it never creates or terminates anything.

Pollers live in a registry keyed by (event loop, connection id, task kind); a poller starts with
its first watcher and stops, closing its client, when its last watcher leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from saltant_provider.client.states import TaskState

# The client package is imported where it is used, not here: importing the trigger module
# (the operator does so when it defers) stays cheap.

log = logging.getLogger(__name__)

__all__ = [
    "Observation",
    "SharedTaskPoller",
    "Watch",
    "active_pollers",
    "get_poller",
    "is_retryable_error",
    "watch",
]

#: Task kinds and the attribute of the client holding their instance manager.
TASK_KIND_MANAGERS: dict[str, str] = {
    "executable": "executable_task_instances",
    "container": "container_task_instances",
}

DEFAULT_PAGE_SIZE = 1000
#: At most this many GETs of one poller run at the same time.
MAX_CONCURRENT_GETS = 16
#: Pages listed in one poll at most; a guard against a server whose ``next`` never ends.
MAX_PAGES_PER_POLL = 1000
#: Margin subtracted from the oldest ``datetime_created``: the bound only narrows the listing,
#: so a wider one costs nothing but keeps clock-rounding and time-zone slips harmless.
CREATED_BOUND_MARGIN = dt.timedelta(seconds=1)
#: After a poll that took longer than the interval, rest this fraction of it before the next.
MIN_REST_FRACTION = 0.2
#: Seconds the last watcher waits for its poller to stop and close its client.
CLOSE_TIMEOUT = 5.0


class InstanceManager(Protocol):
    """What the poller needs of the client's task-instance manager."""

    async def get(self, uuid: str) -> Any: ...

    async def list_page(
        self, filters: dict[str, Any], page: int = 1, page_size: int = 500
    ) -> Any: ...


ClientFactory = Callable[[], Awaitable[Any]]


def is_retryable_error(exc: BaseException) -> bool:
    """Whether a poll that raised ``exc`` is worth repeating (the client's single predicate)."""
    from saltant_provider.client import is_retryable

    return bool(is_retryable(exc))


def _retry_after(exc: BaseException | None) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


@dataclass(frozen=True)
class Observation:
    """One look at a task instance: its state, or the error that hid it.

    ``retryable`` is meaningful only with an ``error``; ``retry_after`` is the pause the server
    asked for (HTTP 429 / 503 ``Retry-After``), if any.
    """

    state: TaskState | None = None
    error: BaseException | None = None
    retryable: bool = False
    retry_after: float | None = None

    @classmethod
    def of_state(cls, state: TaskState | str) -> Observation:
        from saltant_provider.client.states import TaskState

        return cls(state=state if isinstance(state, TaskState) else TaskState.parse(state))

    @classmethod
    def of_error(cls, exc: BaseException, retryable: bool | None = None) -> Observation:
        if retryable is None:
            retryable = is_retryable_error(exc)
        return cls(error=exc, retryable=retryable, retry_after=_retry_after(exc))

    @property
    def finished(self) -> bool:
        return self.state is not None and self.state.is_terminal


def _state_of(instance: Any) -> TaskState:
    from saltant_provider.client.states import TaskState

    state = instance.state
    return state if isinstance(state, TaskState) else TaskState.parse(str(state))


def _created_of(instance: Any) -> dt.datetime | None:
    """The instance's ``datetime_created`` as an aware UTC datetime, or None if unreadable."""
    value = getattr(instance, "datetime_created", None)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def format_created_bound(oldest: dt.datetime) -> str:
    """The ``datetime_created__gte`` value: a full ISO datetime in UTC with a ``Z``."""
    bound = (oldest - CREATED_BOUND_MARGIN).astimezone(dt.timezone.utc)
    return bound.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Watch:
    """One waiter's subscription to a poller: a queue of observations of one uuid."""

    def __init__(self, uuid: str, poll_interval: float) -> None:
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.uuid = uuid
        self.poll_interval = float(poll_interval)
        self._queue: asyncio.Queue[Observation] = asyncio.Queue()

    def push(self, observation: Observation) -> None:
        self._queue.put_nowait(observation)

    async def next(self) -> Observation:
        """Wait for the next observation (callers bound the wait with their own timeout)."""
        return await self._queue.get()

    def __repr__(self) -> str:
        return f"<Watch {self.uuid} every {self.poll_interval}s>"


@dataclass
class PollerStats:
    """Request counts of one poller, for tests and benchmarks."""

    listing_requests: int = 0
    get_requests: int = 0
    registration_gets: int = 0
    confirm_gets: int = 0
    polls: int = 0
    #: Polls that GOT each watched instance instead of listing (few watched, many unfinished).
    get_polls: int = 0
    skipped_confirmed_unfinished: int = 0
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=50))


class SharedTaskPoller:
    """Polls every watched instance of one connection and task kind with shared listings."""

    def __init__(
        self,
        conn_id: str,
        task_kind: str,
        client_factory: ClientFactory,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if task_kind not in TASK_KIND_MANAGERS:
            known = ", ".join(TASK_KIND_MANAGERS)
            raise ValueError(f"unknown saltant task kind {task_kind!r}; expected one of: {known}")
        self.conn_id = conn_id
        self.task_kind = task_kind
        self.page_size = page_size
        self.stats = PollerStats()
        self._client_factory = client_factory
        self._loop = asyncio.get_running_loop()
        self._watches: dict[str, set[Watch]] = {}
        self._pending: set[str] = set()  # new uuids waiting for their registration GET
        self._retry_pending: set[str] = set()  # registrations that failed; tried again per poll
        self._created: dict[str, dt.datetime | None] = {}  # registered, not yet finished
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._client: Any = None
        # A 403 may mean the connection's token was rotated: the client is rebuilt from the
        # connection once before a 403 counts as final (until a request succeeds again).
        self._reopen = False
        self._auth_retry_used = False
        self._listing_pages: int | None = None  # pages the last listing needed (from its count)
        self._get_limit = asyncio.Semaphore(MAX_CONCURRENT_GETS)

    # --- membership -------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def watch_count(self) -> int:
        return sum(len(ws) for ws in self._watches.values())

    @property
    def watched_uuids(self) -> frozenset[str]:
        return frozenset(self._watches)

    @property
    def poll_interval(self) -> float:
        """The smallest poll interval among the current watchers."""
        intervals = [w.poll_interval for ws in self._watches.values() for w in ws]
        return min(intervals) if intervals else math.inf

    def add(self, watch: Watch) -> None:
        """Start delivering observations of ``watch.uuid`` to ``watch``."""
        if self._closed:
            raise RuntimeError("this poller is closed; get a fresh one from the registry")
        watchers = self._watches.setdefault(watch.uuid, set())
        watchers.add(watch)
        if watch.uuid not in self._created:
            self._pending.add(watch.uuid)
        self._wake.set()
        if self._task is None:
            self._task = self._loop.create_task(
                self._run(), name=f"saltant-poller[{self.conn_id}/{self.task_kind}]"
            )

    async def remove(self, watch: Watch) -> None:
        """Stop watching; the last watcher to leave stops the poller and closes its client."""
        watchers = self._watches.get(watch.uuid)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._watches[watch.uuid]
                self._pending.discard(watch.uuid)
                self._retry_pending.discard(watch.uuid)
                self._created.pop(watch.uuid, None)
        if not self._watches:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop polling and close the client; bounded, safe to call twice."""
        self._closed = True
        _forget(self)
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        # Shielded: the poller finishes closing its client even if this caller is cancelled.
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            if not task.done():
                raise  # the caller itself is being cancelled
        except (asyncio.TimeoutError, Exception):
            log.warning("saltant poller for connection %r did not stop in time", self.conn_id)

    # --- delivery ---------------------------------------------------------------------------
    def _deliver(self, uuid: str, observation: Observation) -> None:
        for w in list(self._watches.get(uuid, ())):
            w.push(observation)
        if observation.finished or (observation.error is not None and not observation.retryable):
            # Nothing more to learn about this uuid; its watchers leave after reading this.
            self._created.pop(uuid, None)
            self._pending.discard(uuid)
            self._retry_pending.discard(uuid)

    def _deliver_all(self, uuids: Iterable[str], observation: Observation) -> None:
        for uuid in list(uuids):
            self._deliver(uuid, observation)

    # --- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            self._client = await self._open_client()
            if self._client is None:
                return
            manager: InstanceManager = getattr(self._client, TASK_KIND_MANAGERS[self.task_kind])
            # Polls start every poll_interval (fixed rate, so a slow listing does not stretch the
            # time to notice a finish), but never sooner than a short rest after the last poll
            # ended, nor before a pause the server asked for (Retry-After).
            last_start = self._loop.time()
            not_before = last_start
            while self._watches:
                self._wake.clear()
                if self._reopen:
                    reopened = await self._reopen_client()
                    if reopened is None:
                        return
                    manager = reopened
                if self._pending:
                    await self._register_pending(manager)
                wait = self.poll_interval
                due = max(last_start + wait, not_before)
                now = self._loop.time()
                if now >= due:
                    last_start = now
                    pause = await self._poll_once(manager) if self._created else None
                    # Registrations that failed with a retryable error are tried again per poll.
                    if self._retry_pending:
                        self._pending.update(self._retry_pending)
                        self._retry_pending.clear()
                        await self._register_pending(manager)
                    rest = max(MIN_REST_FRACTION * wait, pause or 0.0)
                    not_before = self._loop.time() + rest
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=due - now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a defect here must not leave watchers waiting forever
            log.exception("saltant poller for connection %r stopped on an error", self.conn_id)
            self._deliver_all(self._watches, Observation.of_error(exc, retryable=False))
        finally:
            if not self._closed:
                # Ended other than by aclose() (no client, a defect, loop shutdown): a dead
                # poller takes no new watchers; the registry hands out a fresh one instead.
                self._closed = True
                _forget(self)
            client, self._client = self._client, None
            if client is not None:
                await self._close_client(client)

    async def _reopen_client(self) -> InstanceManager | None:
        """Rebuild the client from the connection (after a 403); None if watchers gave up."""
        log.info("saltant poller for connection %r: reading the connection again", self.conn_id)
        old, self._client = self._client, None
        if old is not None:
            await self._close_client(old)
        self._client = await self._open_client()
        self._reopen = False
        if self._client is None:
            return None
        self._pending.update(self._retry_pending)
        self._retry_pending.clear()
        manager: InstanceManager = getattr(self._client, TASK_KIND_MANAGERS[self.task_kind])
        return manager

    def _error(self, exc: BaseException) -> Observation:
        """The observation of a failed request (a first 403 counts as retryable, see above)."""
        from saltant_provider.client.exceptions import AuthenticationError

        self.stats.errors.append(type(exc).__name__)
        observation = Observation.of_error(exc)
        if isinstance(exc, AuthenticationError) and (self._reopen or not self._auth_retry_used):
            self._reopen = self._auth_retry_used = True
            observation = dataclasses.replace(observation, retryable=True)
        return observation

    def _succeeded(self) -> None:
        if not self._reopen:
            self._auth_retry_used = False

    async def _open_client(self) -> Any:
        """Get the client, retrying retryable failures; None if watchers must give up."""
        while self._watches:
            try:
                return await self._client_factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                observation = Observation.of_error(exc)
                self.stats.errors.append(type(exc).__name__)
                self._deliver_all(self._watches, observation)
                if not observation.retryable:
                    return None
                await asyncio.sleep(max(self.poll_interval, observation.retry_after or 0.0))
        return None

    @staticmethod
    async def _close_client(client: Any) -> None:
        closer = getattr(client, "aclose", None) or getattr(client, "close", None)
        if closer is None:
            return
        with contextlib.suppress(Exception):
            result = closer()
            if asyncio.iscoroutine(result):
                await asyncio.wait_for(result, CLOSE_TIMEOUT)

    async def _get(self, manager: InstanceManager, uuid: str) -> Any:
        async with self._get_limit:
            self.stats.get_requests += 1
            return await manager.get(uuid)

    async def _register_pending(self, manager: InstanceManager) -> None:
        """GET each newly watched uuid once: its creation time, and whether it is done already."""
        uuids = list(self._pending)
        self._pending.difference_update(uuids)

        async def register(uuid: str) -> None:
            self.stats.registration_gets += 1
            try:
                instance = await self._get(manager, uuid)
                state = _state_of(instance)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                observation = self._error(exc)
                if observation.retryable and uuid in self._watches:
                    self._retry_pending.add(uuid)
                self._deliver(uuid, observation)
                return
            self._succeeded()
            if uuid not in self._watches:
                return
            if not state.is_terminal:
                self._created[uuid] = _created_of(instance)
            self._deliver(uuid, Observation.of_state(state))

        await asyncio.gather(*(register(u) for u in uuids))

    def _listing_filters(self) -> dict[str, Any]:
        from saltant_provider.client.states import UNFINISHED_STATES

        filters: dict[str, Any] = {"state__in": ",".join(s.value for s in UNFINISHED_STATES)}
        created = list(self._created.values())
        if created and all(c is not None for c in created):
            oldest = min(c for c in created if c is not None)
            filters["datetime_created__gte"] = format_created_bound(oldest)
        return filters

    async def _list_unfinished(self, manager: InstanceManager) -> dict[str, TaskState]:
        """All unfinished instances in the bound, uuid -> state, page by page."""
        from saltant_provider.client.exceptions import NotFoundError

        filters = self._listing_filters()
        seen: dict[str, TaskState] = {}
        for page in range(1, MAX_PAGES_PER_POLL + 1):
            self.stats.listing_requests += 1
            try:
                result = await manager.list_page(filters, page=page, page_size=self.page_size)
            except NotFoundError:
                if page == 1:
                    raise
                break  # "Invalid page.": the set shrank while we paged; what is missing gets a GET
            results = list(getattr(result, "results", result))
            if page == 1:
                count = getattr(result, "count", None)
                if isinstance(count, int) and not isinstance(count, bool):
                    self._listing_pages = max(1, math.ceil(count / self.page_size))
            for instance in results:
                seen[str(instance.uuid)] = _state_of(instance)
            if not getattr(result, "next", None) or len(results) < self.page_size:
                break
        return seen

    async def _poll_once(self, manager: InstanceManager) -> float | None:
        """One poll: list, then GET the absent ones. Returns the pause the server asked for.

        When the last listing took at least as many pages as there are instances to watch, a GET
        each is no dearer (and lighter): then the poll GETs them all instead of listing. The
        listing comes back as soon as the watched instances outnumber its pages.
        """
        self.stats.polls += 1
        if self._listing_pages is not None and len(self._created) <= self._listing_pages:
            self.stats.get_polls += 1
            await asyncio.gather(
                *(self._confirm(manager, u, listed=False) for u in list(self._created))
            )
            return None
        try:
            listed = await self._list_unfinished(manager)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            observation = self._error(exc)
            self._deliver_all(self._created, observation)
            return observation.retry_after
        self._succeeded()

        absent: list[str] = []
        for uuid in list(self._created):
            state = listed.get(uuid)
            if state is None:
                absent.append(uuid)
            else:
                self._deliver(uuid, Observation.of_state(state))

        await asyncio.gather(*(self._confirm(manager, u, listed=True) for u in absent))
        return None

    async def _confirm(self, manager: InstanceManager, uuid: str, *, listed: bool) -> None:
        """GET one watched instance (``listed``: it was missing from this poll's listing)."""
        self.stats.confirm_gets += 1
        try:
            instance = await self._get(manager, uuid)
            state = _state_of(instance)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._deliver(uuid, self._error(exc))
            return
        self._succeeded()
        if listed and not state.is_terminal:
            self.stats.skipped_confirmed_unfinished += 1
        self._deliver(uuid, Observation.of_state(state))

    def __repr__(self) -> str:
        return (
            f"<SharedTaskPoller conn={self.conn_id!r} kind={self.task_kind} "
            f"watches={self.watch_count} closed={self._closed}>"
        )


# --- registry ---------------------------------------------------------------------------------
# Keyed by id(loop): a WeakKeyDictionary would keep loops alive through the pollers' own
# references to them. Entries of closed or other loops are purged on every access.
_registry: dict[tuple[int, str, str], SharedTaskPoller] = {}


def _purge() -> None:
    for key, poller in list(_registry.items()):
        if poller.closed or poller.loop.is_closed():
            del _registry[key]


def _forget(poller: SharedTaskPoller) -> None:
    key = (id(poller.loop), poller.conn_id, poller.task_kind)
    if _registry.get(key) is poller:
        del _registry[key]


def get_poller(conn_id: str, task_kind: str) -> SharedTaskPoller | None:
    """The live poller of this event loop for a connection and task kind, if any."""
    _purge()
    poller = _registry.get((id(asyncio.get_running_loop()), conn_id, task_kind))
    if poller is not None and poller.loop is not asyncio.get_running_loop():
        return None  # a dead loop's id reused by a new loop
    return poller


def active_pollers() -> list[SharedTaskPoller]:
    """Every live poller, of every event loop (for tests and diagnostics)."""
    _purge()
    return list(_registry.values())


def _acquire(conn_id: str, task_kind: str, client_factory: ClientFactory) -> SharedTaskPoller:
    poller = get_poller(conn_id, task_kind)
    if poller is None or poller.closed:
        poller = SharedTaskPoller(conn_id, task_kind, client_factory)
        _registry[(id(poller.loop), conn_id, task_kind)] = poller
    return poller


@contextlib.asynccontextmanager
async def watch(
    conn_id: str,
    task_kind: str,
    uuid: str,
    poll_interval: float,
    client_factory: ClientFactory,
) -> AsyncIterator[Watch]:
    """Watch ``uuid`` through this loop's shared poller for the connection and task kind.

    ``client_factory`` is used only if a new poller has to be started. Leaving the context (also by
    cancellation) unregisters the watch; the last watch to leave stops the poller.
    """
    subscription = Watch(uuid, poll_interval)
    poller = _acquire(conn_id, task_kind, client_factory)
    poller.add(subscription)
    try:
        yield subscription
    finally:
        await poller.remove(subscription)
