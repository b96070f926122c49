"""SaltantCreateTaskOperator: create a saltant task instance and (by default) wait for its end.

Importing this module is cheap: the client and the trigger are imported when the task runs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from saltant_provider._compat import AIRFLOW_V_3, AirflowException, BaseOperator, conf
from saltant_provider.hooks._form import DEFAULT_CONN_ID
from saltant_provider.hooks.saltant import SaltantHook, check_task_kind
from saltant_provider.links.saltant import XCOM_SALTANT_URL, SaltantTaskInstanceLink

if TYPE_CHECKING:
    from saltant_provider._compat import Context

__all__ = [
    "XCOM_STATE",
    "SaltantCreateTaskOperator",
    "SaltantTaskError",
    "SaltantTaskEventError",
    "SaltantTaskFailedError",
    "SaltantTaskTimeoutError",
    "airflow_instance_name",
]

#: XCom key of the final saltant state pushed by the operator.
XCOM_STATE = "state"
#: saltant's limit on task instance names.
MAX_NAME_LENGTH = 200
#: Default limit of a wait, like Airflow sensors' (7 days); pass timeout=None for no limit.
DEFAULT_WAIT_TIMEOUT = 7 * 24 * 3600.0
#: After a create without an answer, how long to look for the instance by name (bounds, s).
LOOKUP_GRACE_MIN = 5.0
LOOKUP_GRACE_MAX = 60.0
LOOKUP_INTERVAL = 0.5
#: How much longer than the trigger's own deadline Airflow waits for the trigger.
DEFER_TIMEOUT_MARGIN = 30.0


class SaltantTaskError(AirflowException):
    """Base class of the Airflow task failures raised by this provider."""


class SaltantTaskFailedError(SaltantTaskError):
    """The saltant task instance ended ``failed`` or ``terminated``."""

    def __init__(self, uuid: str, state: str, task_kind: str = "executable") -> None:
        super().__init__(
            f"saltant {task_kind} task instance {uuid} ended in state {state!r} (not successful); "
            "its output stays on the saltant worker host"
        )
        self.uuid = uuid
        self.state = state


class SaltantTaskTimeoutError(SaltantTaskError):
    """The wait for a saltant task instance ran past its timeout (the instance was terminated)."""


class SaltantTaskEventError(SaltantTaskError):
    """The trigger sent no usable event, or reported an error while polling."""


def airflow_instance_name(key: str, user_name: str | None = None) -> str:
    """The saltant name that identifies one Airflow task instance (unique, <= 200 characters).

    Without a user name: ``key`` itself (``dag_id.task_id.run_id.map_index``), cut and ended with
    ``~<hash>`` if it is too long. With a user name: ``"<name> [airflow:<hash>]"``, the name cut
    to fit. The hash is the first 12 hex digits of sha256(key).
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    if user_name:
        suffix = f" [airflow:{digest}]"
        return user_name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    if len(key) <= MAX_NAME_LENGTH:
        return key
    return key[: MAX_NAME_LENGTH - len(digest) - 1] + "~" + digest


def _seconds(value: Any, what: str, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_arguments(arguments: Any, where: str) -> dict[str, Any]:
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise ValueError(
            f"arguments must be a dict (the saltant task's JSON arguments), got "
            f"{type(arguments).__name__} {where}"
        )
    bad = [k for k in arguments if not isinstance(k, str)]
    if bad:
        raise ValueError(f"arguments keys must be strings, got {bad!r} {where}")
    try:
        json.dumps(arguments)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"arguments must be JSON-serialisable {where}: {exc}") from None
    return arguments


def _check_ref(value: Any, what: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise ValueError(f"{what} must be a saltant id (int) or name (str), got {value!r}")
    return value


class SaltantCreateTaskOperator(BaseOperator):
    """Create a saltant task instance and wait until it ends.

    :param saltant_conn_id: the Airflow connection of type ``saltant``.
    :param task_type: the task type, by id or by name.
    :param task_queue: the task queue, by id or by name.
    :param task_kind: ``"executable"`` (default) or ``"container"``.
    :param arguments: the task's JSON arguments (templated).
    :param name: a name for the task instance (templated); see "Reattach" below.
    :param wait_for_completion: wait until the instance ends (default); if False, return once
        it is created.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between two state checks.
    :param timeout: seconds to wait at most (default 7 days, like sensors); then the remote
        instance is terminated and the task fails. None waits without limit.
    :param shared_polling: when deferred, share one poller with every other saltant wait of
        the same connection and task kind in the triggerer (default); False polls this
        instance on its own (one request per wait per poll).

    The return value (XCom) is the task instance uuid; the XCom ``state`` holds its final
    state and ``saltant_url`` its page in the saltant front end (the "saltant Task Instance"
    link). The task fails with ``SaltantTaskFailedError`` when the instance ends ``failed`` or
    ``terminated``. Killing the Airflow task terminates the saltant instance.

    Reattach: each create carries a name unique to the Airflow task instance (dag, task, run,
    map index), see :func:`airflow_instance_name`. Before creating, the operator lists the
    instances of that name: if one is still unfinished (an earlier try still running), it
    reattaches to it instead of creating a second one. If the create request gets no answer
    (dropped connection, timeout), it keeps looking for the name for a while (twice the
    connection's request timeout, 5 to 60 s) before giving up, so a lost or late answer does
    not hide an instance that exists. A finished earlier instance is never reused:
    a retry after a failure creates a fresh one.
    """

    template_fields: Sequence[str] = ("arguments", "name", "saltant_task_type", "task_queue")
    #: The synchronous wait gives up after this many transient errors in a row (no answer,
    #: 429, 5xx) that also span at least ``error_window`` seconds (the trigger's policy).
    max_consecutive_errors: int = 5
    error_window: float = 60.0
    template_fields_renderers: ClassVar[dict[str, str]] = {"arguments": "json"}
    operator_extra_links = (SaltantTaskInstanceLink(),)
    ui_color = "#c6e2ff"

    def __init__(
        self,
        *,
        task_type: int | str,
        task_queue: int | str,
        saltant_conn_id: str = DEFAULT_CONN_ID,
        task_kind: str = "executable",
        arguments: dict[str, Any] | None = None,
        name: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 5.0,
        timeout: float | timedelta | None = DEFAULT_WAIT_TIMEOUT,
        shared_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.saltant_conn_id = saltant_conn_id
        self.shared_polling = bool(shared_polling)
        # BaseOperator.task_type is a read-only property: keep saltant's under another name.
        self.saltant_task_type = _check_ref(task_type, "task_type")
        self.task_queue = _check_ref(task_queue, "task_queue")
        self.task_kind = check_task_kind(task_kind)
        if isinstance(arguments, dict):
            bad = [k for k in arguments if not isinstance(k, str)]
            if bad:
                raise ValueError(f"arguments keys must be strings, got {bad!r}")
        elif arguments is not None and not _is_lazy(arguments):
            _check_arguments(arguments, f"in task {self.task_id!r}")
        self.arguments = arguments
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self.wait_for_completion = bool(wait_for_completion)
        self.deferrable = bool(deferrable)
        self.poll_interval = _seconds(poll_interval, "poll_interval", allow_none=False) or 5.0
        self.timeout = _seconds(timeout, "timeout", allow_none=True)
        self._saltant_uuid: str | None = None
        self._killed = False
        self._creating: tuple[Any, str, set[str]] | None = None

    # -- execution --

    def _hook(self) -> SaltantHook:
        return SaltantHook(saltant_conn_id=self.saltant_conn_id)

    def execute(self, context: Context) -> str:
        started = time.monotonic()
        arguments = _check_arguments(self.arguments, f"in task {self.task_id!r} (after rendering)")
        hook = self._hook()
        manager = hook.instances(self.task_kind)
        ti = context["ti"]
        key = f"{ti.dag_id}.{ti.task_id}.{ti.run_id}.{getattr(ti, 'map_index', -1)}"
        name = airflow_instance_name(key, self.name)

        instance = self._find_or_create(hook, manager, name, arguments)
        uuid = str(instance.uuid)
        self._saltant_uuid = uuid
        if self._killed and self.wait_for_completion:  # killed while the create was in flight
            self._terminate(manager, uuid, "the Airflow task was killed during the create")
            raise SaltantTaskError(f"killed while creating saltant task instance {uuid}")
        url = str(manager.front_end_url(uuid))
        ti.xcom_push(key=XCOM_SALTANT_URL, value=url)
        if AIRFLOW_V_3:  # Airflow 3 shows links from this XCom: pushed now, it works mid-run
            ti.xcom_push(key=SaltantTaskInstanceLink().xcom_key, value=url)
        self.log.info("saltant %s task instance %s (%r): %s", self.task_kind, uuid, name, url)

        if not self.wait_for_completion:
            ti.xcom_push(key=XCOM_STATE, value=str(instance.state))
            return uuid
        if instance.state.is_terminal:
            return self._finish(context, uuid, str(instance.state))
        if self.deferrable:
            self._defer(uuid, started)
        try:
            state = self._wait(manager, uuid, started)
        except SaltantTaskTimeoutError:
            raise
        except Exception:
            self._terminate_if_last_try(context, manager, uuid)
            raise
        return self._finish(context, uuid, state)

    def _resolve(self, hook: SaltantHook) -> tuple[int, int]:
        from saltant_provider.client.exceptions import NotFoundError

        def one(ref: int | str, manager: Any, what: str) -> int:
            if isinstance(ref, int) or ref.strip().isdigit():
                return int(ref)
            try:
                return int(manager.get(name=ref).id)
            except NotFoundError:
                raise SaltantTaskError(
                    f"no saltant {what} named {ref!r} on {hook.get_settings().base_api_url}: "
                    f"create it in saltant, or pass its numeric id"
                    + (" (or check task_kind)" if what.endswith("task type") else "")
                ) from None

        type_id = one(
            self.saltant_task_type, hook.types(self.task_kind), f"{self.task_kind} task type"
        )
        queue_id = one(self.task_queue, hook.task_queues, "task queue")
        return type_id, queue_id

    def _find_or_create(
        self, hook: SaltantHook, manager: Any, name: str, arguments: dict[str, Any]
    ) -> Any:
        """Reattach to an unfinished instance of this name, or create one (see class docstring)."""
        from saltant_provider.client.exceptions import BadHttpRequestError

        type_id, queue_id = self._resolve(hook)
        earlier = list(manager.list({"name": name}))
        for inst in earlier:  # newest first
            if not inst.state.is_terminal:
                self.log.warning(
                    "Reattaching to saltant task instance %s (state %s), created by an earlier "
                    "try of this task instance; not creating a second one",
                    inst.uuid,
                    inst.state,
                )
                return inst
        known = {str(inst.uuid) for inst in earlier}
        self._creating = (manager, name, known)
        try:
            return manager.create(type_id, queue_id, arguments=arguments, name=name)
        except BadHttpRequestError as exc:
            if exc.status_code == 400 and "task_queue" in str(exc) and "does not exist" in str(exc):
                raise SaltantTaskError(
                    f"saltant refused task queue {self.task_queue!r} (id {queue_id}): {exc}. The "
                    "queue exists but may be inactive, or private to another saltant user; "
                    "activate it or use a queue your token may use"
                ) from exc
            if not _maybe_created(exc):
                raise
            # Without an answer the server may still be processing the create: keep looking
            # for a while (twice the request timeout, 5 to 60 s) before giving up.
            grace = 0.0
            if _no_answer(exc):
                grace = min(
                    max(2 * hook.get_settings().timeout, LOOKUP_GRACE_MIN), LOOKUP_GRACE_MAX
                )
            self.log.warning(
                "The create request got no usable answer (%s); looking for the instance by name"
                " for up to %g s",
                exc,
                grace,
            )
            until = time.monotonic() + grace
            while True:
                found = [i for i in manager.list({"name": name}) if str(i.uuid) not in known]
                if found:
                    self.log.warning("Found it: saltant task instance %s exists", found[0].uuid)
                    return found[0]
                left = until - time.monotonic()
                if left <= 0:
                    raise
                time.sleep(min(LOOKUP_INTERVAL, left))

    def _wait(self, manager: Any, uuid: str, started: float) -> str:
        """Poll until the instance ends; transient errors are tolerated like the trigger does."""
        from saltant_provider.client import is_retryable

        deadline = started + self.timeout if self.timeout is not None else None
        last: str | None = None
        streak, streak_start = 0, 0.0
        while True:
            try:
                state = manager.get(uuid).state
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                now = time.monotonic()
                streak, streak_start = streak + 1, (now if streak == 0 else streak_start)
                self.log.warning("Transient error %d reading %s: %s", streak, uuid, exc)
                if (
                    streak >= self.max_consecutive_errors
                    and now - streak_start >= self.error_window
                ):
                    raise
                state = None
            else:
                streak = 0
                if str(state) != last:
                    self.log.info("saltant task instance %s is %s", uuid, state)
                    last = str(state)
                if state.is_terminal:
                    return str(state)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._terminate(manager, uuid, "the operator timeout passed")
                raise SaltantTaskTimeoutError(
                    f"saltant task instance {uuid} did not finish within {self.timeout:g} s "
                    f"(last state {last}); it was asked to terminate"
                )
            pause = (
                self.poll_interval if deadline is None else min(self.poll_interval, deadline - now)
            )
            time.sleep(max(pause, 0.0))

    def _defer(self, uuid: str, started: float) -> None:
        from saltant_provider.triggers.saltant import SaltantTaskTrigger

        remaining = None
        if self.timeout is not None:
            remaining = max(self.timeout - (time.monotonic() - started), 0.0)
        trigger = SaltantTaskTrigger(
            saltant_conn_id=self.saltant_conn_id,
            task_instance_uuid=uuid,
            task_kind=self.task_kind,
            poll_interval=self.poll_interval,
            deadline=None if remaining is None else time.time() + remaining,
            shared_polling=self.shared_polling,
        )
        defer_timeout = None
        if remaining is not None:
            margin = max(DEFER_TIMEOUT_MARGIN, 2 * self.poll_interval)
            defer_timeout = timedelta(seconds=remaining + margin)
        self.log.info("Deferring: the triggerer now watches saltant task instance %s", uuid)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=defer_timeout)

    def execute_complete(self, context: Context, event: Any = None) -> str:
        """Resume after the trigger: check its event and end like the synchronous wait."""
        from saltant_provider.triggers.saltant import parse_event

        try:
            ev = parse_event(event)
        except Exception as exc:
            raise SaltantTaskEventError(f"saltant trigger sent no usable event: {exc}") from exc
        uuid = ev.task_instance_uuid
        self._saltant_uuid = uuid
        if ev.status == "success":
            return self._finish(context, uuid, "successful")
        if ev.status in ("failed", "terminated"):
            return self._finish(context, uuid, ev.state or ev.status)
        if ev.status == "timeout":
            self._terminate(
                self._hook().instances(ev.task_kind), uuid, "the operator timeout passed"
            )
            context["ti"].xcom_push(key=XCOM_STATE, value=ev.state)
            raise SaltantTaskTimeoutError(
                f"saltant task instance {uuid} did not finish within {self.timeout} s "
                f"(last state {ev.state}); it was asked to terminate. {ev.message}".strip()
            )
        if self._is_last_try(context):
            self._terminate(
                self._hook().instances(ev.task_kind),
                uuid,
                "the wait failed on the last try (no retry will reattach)",
            )
        raise SaltantTaskEventError(
            f"watching saltant task instance {uuid} failed: {ev.message or ev.status}"
        )

    def _finish(self, context: Context, uuid: str, state: str) -> str:
        context["ti"].xcom_push(key=XCOM_STATE, value=state)
        if state != "successful":
            raise SaltantTaskFailedError(uuid, state, self.task_kind)
        self.log.info("saltant task instance %s ended successful", uuid)
        return uuid

    def _terminate(self, manager: Any, uuid: str, why: str) -> None:
        self.log.warning("Terminating saltant task instance %s: %s", uuid, why)
        try:
            manager.terminate(uuid)
        except Exception as exc:
            self.log.error("Could not terminate saltant task instance %s: %s", uuid, exc)

    def _is_last_try(self, context: Context) -> bool:
        """True when Airflow will not retry this task instance (unknown outside Airflow: False)."""
        ti = context.get("ti")
        try_number = getattr(ti, "try_number", None)
        max_tries = getattr(ti, "max_tries", None)
        if not isinstance(try_number, int) or not isinstance(max_tries, int):
            return False
        return not (self.retries and try_number <= max_tries)

    def _terminate_if_last_try(self, context: Context, manager: Any, uuid: str) -> None:
        """The wait failed for good: with no retry left to reattach, do not leave an orphan."""
        if self._is_last_try(context):
            self._terminate(
                manager, uuid, "the wait failed on the last try (no retry will reattach)"
            )

    def on_kill(self) -> None:
        """Terminate the saltant instance this task waits for, even one still being created."""
        self._killed = True
        if not self.wait_for_completion:
            return
        if self._saltant_uuid:
            self._terminate(
                self._hook().instances(self.task_kind),
                self._saltant_uuid,
                "the Airflow task was killed",
            )
        elif self._creating is not None:  # the create is in flight: end what already exists
            manager, name, known = self._creating
            try:
                for inst in manager.list({"name": name}):
                    if str(inst.uuid) not in known and not inst.state.is_terminal:
                        self._terminate(manager, str(inst.uuid), "the Airflow task was killed")
            except Exception as exc:
                self.log.error("Could not look for the instance being created: %s", exc)


def _is_lazy(value: Any) -> bool:
    """An XComArg or similar resolved at run time (checked again after rendering)."""
    return hasattr(value, "resolve")


def _no_answer(exc: Any) -> bool:
    """No HTTP answer at all (or a gateway timeout): the server may create it later."""
    return getattr(exc, "status_code", None) is None or getattr(exc, "status_code", None) == 504


def _maybe_created(exc: Any) -> bool:
    """Could the create have happened although we got no (usable) answer?"""
    request_sent = getattr(exc, "request_sent", None)
    if request_sent is not None:
        return bool(request_sent)
    status = getattr(exc, "status_code", None)
    # No answer, a server error, or saltant's production "405 with empty body" on a POST error.
    return status is None or status >= 500 or status == 405
