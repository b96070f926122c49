"""Deferrable wait for a saltant task instance: :class:`SaltantTaskTrigger` and its event format.

The trigger only reads: it never creates or terminates anything (a trigger can be re-run after a
triggerer restart). It yields exactly one :class:`TriggerEvent` whose payload comes from
:func:`make_event`; the task side reads it back with :func:`parse_event`, which refuses anything
missing or malformed instead of taking it for success.

By default every trigger of one connection and task kind in the triggerer's event loop shares one
poller (see :mod:`saltant_provider.triggers.poller`); ``shared_polling=False`` makes the trigger
GET its own instance every ``poll_interval`` seconds instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

# airflow.sdk does not export BaseTrigger / TriggerEvent (checked in Airflow 3.3.2), and
# airflow.triggers.base holds both in Airflow 2.11 and 3.x alike.
from airflow.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from saltant_provider.triggers.poller import TASK_KIND_MANAGERS, Observation, watch

if TYPE_CHECKING:
    from saltant_provider.client.states import TaskState

__all__ = [
    "EVENT_STATUSES",
    "SaltantTaskEvent",
    "SaltantTaskTrigger",
    "SaltantTriggerEventError",
    "make_event",
    "parse_event",
]

#: What a wait can end with. The first three mirror the terminal task states.
EVENT_STATUSES: tuple[str, ...] = ("success", "failed", "terminated", "timeout", "error")
_EVENT_FIELDS: tuple[str, ...] = ("status", "task_instance_uuid", "task_kind", "state", "message")


class SaltantTriggerEventError(AirflowException):
    """A trigger event for a saltant wait is missing or malformed."""


@dataclass(frozen=True)
class SaltantTaskEvent:
    """A validated trigger event: how the wait for one task instance ended."""

    status: str
    task_instance_uuid: str
    task_kind: str
    state: str | None
    message: str

    @property
    def task_state(self) -> TaskState | None:
        """The last known state of the instance, if one was seen."""
        from saltant_provider.client.states import TaskState

        return TaskState(self.state) if self.state is not None else None

    @property
    def is_success(self) -> bool:
        return self.status == "success"


def status_for_state(state: TaskState) -> str:
    """The event status of a terminal state: ``success``, ``failed`` or ``terminated``."""
    if not state.is_terminal:
        raise ValueError(f"state {state.value!r} is not terminal")
    return "success" if state.is_successful else state.value


def _clip(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_event(event: Any) -> SaltantTaskEvent:
    """Validate a saltant trigger event (its payload dict, or the TriggerEvent itself).

    Raises :class:`SaltantTriggerEventError` naming what is wrong; never guesses a status.
    """
    if isinstance(event, TriggerEvent):
        event = event.payload
    if event is None:
        raise SaltantTriggerEventError(
            "no saltant trigger event was received: the deferred wait ended without telling how "
            "the task instance finished, so its outcome is unknown"
        )
    if not isinstance(event, Mapping):
        raise SaltantTriggerEventError(
            f"a saltant trigger event must be a dict, got {type(event).__name__}: {_clip(event)}"
        )
    missing = [name for name in _EVENT_FIELDS if name not in event]
    if missing:
        raise SaltantTriggerEventError(
            f"saltant trigger event lacks {', '.join(missing)}: {_clip(dict(event))}"
        )
    status, uuid, kind, state, message = (event[name] for name in _EVENT_FIELDS)
    if not isinstance(status, str) or status not in EVENT_STATUSES:
        raise SaltantTriggerEventError(
            f"saltant trigger event has an unknown status {status!r}; "
            f"expected one of: {', '.join(EVENT_STATUSES)}"
        )
    if not isinstance(uuid, str) or not uuid.strip():
        raise SaltantTriggerEventError(
            f"saltant trigger event has no valid task_instance_uuid: {uuid!r}"
        )
    if not isinstance(kind, str) or kind not in TASK_KIND_MANAGERS:
        raise SaltantTriggerEventError(
            f"saltant trigger event has an unknown task_kind {kind!r}; "
            f"expected one of: {', '.join(TASK_KIND_MANAGERS)}"
        )
    if not isinstance(message, str):
        raise SaltantTriggerEventError(
            f"saltant trigger event message must be a string, got {type(message).__name__}"
        )
    from saltant_provider.client.states import TaskState

    task_state: TaskState | None = None
    if state is not None:
        if not isinstance(state, str):
            raise SaltantTriggerEventError(
                f"saltant trigger event state must be a string or null, got {_clip(state)}"
            )
        try:
            task_state = TaskState.parse(state)
        except ValueError as exc:
            raise SaltantTriggerEventError(f"saltant trigger event: {exc}") from None
    if status in ("timeout", "error"):
        if task_state is not None and task_state.is_terminal:
            raise SaltantTriggerEventError(
                f"saltant trigger event says {status!r} but the instance is {state!r} (finished)"
            )
    elif task_state is None or not task_state.is_terminal or status_for_state(task_state) != status:
        raise SaltantTriggerEventError(
            f"saltant trigger event status {status!r} does not match the task state {state!r}"
        )
    return SaltantTaskEvent(status, uuid, kind, state, message)


def make_event(
    status: str,
    task_instance_uuid: str,
    task_kind: str,
    state: str | TaskState | None,
    message: str,
) -> dict[str, Any]:
    """Build a trigger event payload (plain JSON); it passes :func:`parse_event` by construction."""
    from saltant_provider.client.states import TaskState

    payload: dict[str, Any] = {
        "status": status,
        "task_instance_uuid": task_instance_uuid,
        "task_kind": task_kind,
        "state": state.value if isinstance(state, TaskState) else state,
        "message": message,
    }
    parse_event(payload)
    return payload


class _ObservationSource(Protocol):
    async def next(self) -> Observation: ...


class _OwnPolling:
    """``shared_polling=False``: GET the one instance every poll interval with its own client."""

    def __init__(self, conn_id: str, task_kind: str, uuid: str, poll_interval: float) -> None:
        self.conn_id = conn_id
        self.task_kind = task_kind
        self.uuid = uuid
        self.poll_interval = poll_interval
        self._client: Any = None
        self._pause = 0.0
        self._reread = False  # the connection was read again after a 403

    async def next(self) -> Observation:
        if self._pause:
            await asyncio.sleep(self._pause)
        try:
            if self._client is None:
                from saltant_provider.hooks.saltant import SaltantHook

                self._client = await SaltantHook(self.conn_id).get_async_client()
            manager = getattr(self._client, TASK_KIND_MANAGERS[self.task_kind])
            instance = await manager.get(self.uuid)
            observation = Observation.of_state(instance.state)
            self._reread = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from saltant_provider.client.exceptions import AuthenticationError

            observation = Observation.of_error(exc)
            if isinstance(exc, AuthenticationError) and not self._reread:
                # Perhaps a rotated token: read the connection again once, like the poller.
                self._reread = True
                await self.aclose()
                observation = dataclasses.replace(observation, retryable=True)
        self._pause = max(self.poll_interval, observation.retry_after or 0.0)
        return observation

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.shield(client.aclose())


def _check_number(name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


class SaltantTaskTrigger(BaseTrigger):
    """Wait, in the triggerer, until a saltant task instance finishes or a deadline passes.

    :param saltant_conn_id: the Airflow connection of the saltant server.
    :param task_instance_uuid: the instance to wait for.
    :param task_kind: ``executable`` or ``container``.
    :param poll_interval: seconds between looks at the server.
    :param deadline: unix timestamp (wall clock) after which the wait ends with a ``timeout``
        event; the instance is left alone (the operator decides whether to terminate it).
    :param shared_polling: share one poller with the other waits of this connection and kind.

    Transient errors (no answer, 429, 5xx: the client's ``is_retryable``) are retried; the wait
    ends with an ``error`` event after ``max_consecutive_errors`` of them in a row that also span
    at least ``error_window`` seconds. Any other error (404, a malformed uuid, a missing
    connection, ...) ends it at once; so does a 403 that persists after the connection was read
    again (a token may have been rotated while the task waited).
    """

    #: Consecutive transient errors tolerated before giving up (class-level: not serialized).
    max_consecutive_errors: int = 5
    #: ... and the least number of seconds such an error streak must last before giving up.
    error_window: float = 60.0

    def __init__(
        self,
        saltant_conn_id: str,
        task_instance_uuid: str,
        task_kind: str = "executable",
        poll_interval: float = 5.0,
        deadline: float | None = None,
        shared_polling: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(saltant_conn_id, str) or not saltant_conn_id.strip():
            raise ValueError(f"saltant_conn_id must be a connection id, got {saltant_conn_id!r}")
        if not isinstance(task_instance_uuid, str) or not task_instance_uuid.strip():
            raise ValueError(
                f"task_instance_uuid must be a task instance uuid, got {task_instance_uuid!r}"
            )
        if task_kind not in TASK_KIND_MANAGERS:
            raise ValueError(
                f"task_kind must be one of {', '.join(TASK_KIND_MANAGERS)}, got {task_kind!r}"
            )
        interval = _check_number("poll_interval", poll_interval)
        if interval is None or interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
        self.saltant_conn_id = saltant_conn_id
        self.task_instance_uuid = task_instance_uuid
        self.task_kind = task_kind
        self.poll_interval = interval
        self.deadline = _check_number("deadline", deadline, optional=True)
        self.shared_polling = bool(shared_polling)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "saltant_conn_id": self.saltant_conn_id,
                "task_instance_uuid": self.task_instance_uuid,
                "task_kind": self.task_kind,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "shared_polling": self.shared_polling,
            },
        )

    # --- events -------------------------------------------------------------------------------
    def _what(self) -> str:
        return f"saltant {self.task_kind} task instance {self.task_instance_uuid}"

    def _event(self, status: str, state: TaskState | None, message: str) -> dict[str, Any]:
        return make_event(status, self.task_instance_uuid, self.task_kind, state, message)

    def _finished_event(self, state: TaskState) -> dict[str, Any]:
        return self._event(status_for_state(state), state, f"{self._what()} finished: {state}")

    def _timeout_event(self, last_state: TaskState | None) -> dict[str, Any]:
        assert self.deadline is not None
        when = dt.datetime.fromtimestamp(self.deadline, dt.timezone.utc).isoformat()
        seen = f"last seen {last_state}" if last_state else "its state was never read"
        return self._event(
            "timeout",
            last_state,
            f"{self._what()} had not finished by the deadline {when} ({seen})",
        )

    def _error_event(
        self, observation: Observation, last_state: TaskState | None, why: str
    ) -> dict[str, Any]:
        from saltant_provider.client.exceptions import AuthenticationError, NotFoundError

        exc = observation.error
        hint = ""
        if isinstance(exc, NotFoundError):
            hint = (
                f" (check the uuid, and that it is a {self.task_kind} task instance on the "
                f"server of connection {self.saltant_conn_id!r})"
            )
        elif isinstance(exc, AuthenticationError):
            hint = f" (check the token of connection {self.saltant_conn_id!r})"
        return self._event(
            "error",
            last_state,
            f"{why} waiting for {self._what()}: {type(exc).__name__}: {exc}{hint}",
        )

    # --- the wait -----------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the instance finishes, the deadline passes or errors persist; one event."""
        if self.deadline is not None and self.deadline <= time.time():
            yield TriggerEvent(self._timeout_event(None))  # e.g. rebuilt after a long outage
            return
        try:
            if self.shared_polling:
                conn_id = self.saltant_conn_id

                async def client_factory() -> Any:
                    from saltant_provider.hooks.saltant import SaltantHook

                    return await SaltantHook(conn_id).get_async_client()

                async with watch(
                    conn_id,
                    self.task_kind,
                    self.task_instance_uuid,
                    self.poll_interval,
                    client_factory,
                ) as subscription:
                    payload = await self._wait(subscription)
            else:
                source = _OwnPolling(
                    self.saltant_conn_id,
                    self.task_kind,
                    self.task_instance_uuid,
                    self.poll_interval,
                )
                try:
                    payload = await self._wait(source)
                finally:
                    await source.aclose()
        except asyncio.CancelledError:
            self.log.info("wait for %s cancelled", self._what())
            raise
        # The poller is already left: a triggerer that never resumes us holds nothing.
        yield TriggerEvent(payload)

    async def _wait(self, source: _ObservationSource) -> dict[str, Any]:
        last_state: TaskState | None = None
        streak = 0
        streak_start = 0.0
        while True:
            timeout: float | None = None
            if self.deadline is not None:
                timeout = self.deadline - time.time()
                if timeout <= 0:
                    return self._timeout_event(last_state)
            try:
                observation = await asyncio.wait_for(source.next(), timeout)
            except asyncio.TimeoutError:
                return self._timeout_event(last_state)
            if observation.error is not None:
                if not observation.retryable:
                    return self._error_event(observation, last_state, "gave up")
                now = time.monotonic()
                if streak == 0:
                    streak_start = now
                streak += 1
                self.log.warning(
                    "transient error %d while waiting for %s: %s",
                    streak,
                    self._what(),
                    observation.error,
                )
                if (
                    streak >= self.max_consecutive_errors
                    and now - streak_start >= self.error_window
                ):
                    return self._error_event(
                        observation,
                        last_state,
                        f"gave up after {streak} consecutive errors over {now - streak_start:.1f}s",
                    )
                continue
            streak = 0
            assert observation.state is not None
            if observation.state is not last_state:
                self.log.info("%s is %s", self._what(), observation.state)
            last_state = observation.state
            if last_state.is_terminal:
                return self._finished_event(last_state)
