"""saltant's objects as plain dataclasses, built field by field from response JSON.

Unknown response fields are ignored (a newer server must not break the client), known fields are
type-checked, datetimes become timezone-aware. A body that cannot be read raises
:class:`UnexpectedResponseError`, never ``KeyError`` or ``TypeError``. Model methods (``sync``,
``put``, ``clone``, ...) go through the manager that made the model, as in saltant-py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import dateutil.parser

from saltant_provider.client.core import DEFAULT_REFRESH_PERIOD
from saltant_provider.client.exceptions import InvalidRequestError, UnexpectedResponseError
from saltant_provider.client.states import TaskState

M = TypeVar("M", bound="Model")
Converter = Callable[[str, object], Any]


def _bad(name: str, value: object, expected: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"field {name!r} should be {expected}, got {type(value).__name__} {value!r:.100}"
    )


def _str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _bad(name, value, "a string")
    return value


def _opt_str(name: str, value: object) -> str | None:
    return None if value is None else _str(name, value)


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, value, "an integer")
    return value


def _opt_int(name: str, value: object) -> int | None:
    return None if value is None else _int(name, value)


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, value, "true or false")
    return value


def _list(name: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(name, value, "a list")
    return value


def _dict(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, value, "an object")
    return value


def _any(name: str, value: object) -> Any:
    return value


def _state(name: str, value: object) -> TaskState:
    if not isinstance(value, str):
        raise _bad(name, value, "a task state string")
    try:
        return TaskState.parse(value)
    except ValueError as exc:
        raise UnexpectedResponseError(str(exc)) from None


def parse_datetime(name: str, value: object) -> dt.datetime | None:
    """ISO 8601 text to an aware datetime (naive input is taken as UTC); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(name, value, "an ISO 8601 datetime string")
    try:
        parsed = dateutil.parser.isoparse(value)
    except (ValueError, OverflowError) as exc:
        raise _bad(name, value, f"an ISO 8601 datetime ({exc})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


@dataclasses.dataclass(kw_only=True)
class Model:
    """Base of every saltant object. ``manager`` made it and serves its methods."""

    manager: Any = dataclasses.field(default=None, repr=False, compare=False)

    _required: ClassVar[tuple[str, ...]] = ()
    _converters: ClassVar[dict[str, Converter]] = {}

    @classmethod
    def from_json(cls: type[M], data: object, manager: Any = None) -> M:
        """Build the model from a response body, ignoring fields it does not know."""
        if not isinstance(data, Mapping):
            raise UnexpectedResponseError(
                f"expected a {cls.__name__} object, got {type(data).__name__} {data!r:.100}"
            )
        values: dict[str, Any] = {}
        for name in cls._required:
            if name not in data:
                raise UnexpectedResponseError(
                    f"{cls.__name__} from the server has no {name!r} field"
                )
        for field in dataclasses.fields(cls):
            if field.name != "manager" and field.name in data:
                convert = cls._converters.get(field.name, _any)
                values[field.name] = convert(field.name, data[field.name])
        return cls(manager=manager, **values)

    def _manager(self) -> Any:
        if self.manager is None or getattr(self.manager, "is_async", False):
            raise InvalidRequestError(
                f"this {type(self).__name__} has no sync manager (it came from AsyncClient or "
                "was built by hand); call the client's manager methods instead"
            )
        return self.manager

    def _update_from(self, other: Model) -> None:
        """Copy the server's fresh values into this object (saltant-py promised, never did)."""
        for field in dataclasses.fields(self):
            if field.name != "manager":
                setattr(self, field.name, getattr(other, field.name))


_INSTANCE_CONVERTERS: dict[str, Converter] = {
    "uuid": _str,
    "name": _str,
    "state": _state,
    "user": _opt_str,
    "task_queue": _opt_int,
    "task_type": _opt_int,
    "datetime_created": parse_datetime,
    "datetime_finished": parse_datetime,
    "arguments": _any,
}


@dataclasses.dataclass(kw_only=True)
class BaseTaskInstance(Model):
    """A task instance (a job): ``uuid``, ``state`` and where and what it runs."""

    uuid: str
    state: TaskState
    name: str = ""
    user: str | None = None
    task_queue: int | None = None
    task_type: int | None = None
    datetime_created: dt.datetime | None = None
    datetime_finished: dt.datetime | None = None
    arguments: Any = dataclasses.field(default_factory=dict)

    _required = ("uuid", "state")
    _converters = _INSTANCE_CONVERTERS

    def __str__(self) -> str:
        return self.uuid

    @property
    def is_finished(self) -> bool:
        return self.state.is_terminal

    def sync(self: M) -> M:
        """Refresh this object from the server and return it."""
        fresh = self._manager().get(self.uuid)  # type: ignore[attr-defined]
        self._update_from(fresh)
        return self

    def clone(self) -> BaseTaskInstance:
        """Start a new instance with the same type, queue, name and arguments."""
        return self._manager().clone(self.uuid)  # type: ignore[no-any-return]

    def terminate(self) -> BaseTaskInstance:
        """Ask the server to stop this instance; returns it as the server reports it now."""
        return self._manager().terminate(self.uuid)  # type: ignore[no-any-return]

    def wait_until_finished(
        self, refresh_period: float = DEFAULT_REFRESH_PERIOD, timeout: float | None = None
    ) -> BaseTaskInstance:
        """Poll until the instance is in a terminal state (or ``timeout`` seconds pass)."""
        return self._manager().wait_until_finished(  # type: ignore[no-any-return]
            self.uuid, refresh_period=refresh_period, timeout=timeout
        )


@dataclasses.dataclass(kw_only=True)
class ExecutableTaskInstance(BaseTaskInstance):
    """An instance of an executable task type."""


@dataclasses.dataclass(kw_only=True)
class ContainerTaskInstance(BaseTaskInstance):
    """An instance of a container task type."""


_TYPE_CONVERTERS: dict[str, Converter] = {
    "id": _int,
    "name": _str,
    "description": _str,
    "user": _opt_str,
    "datetime_created": parse_datetime,
    "command_to_run": _str,
    "environment_variables": _list,
    "required_arguments": _list,
    "required_arguments_default_values": _dict,
}


@dataclasses.dataclass(kw_only=True)
class BaseTaskType(Model):
    """What a task runs and which arguments it needs."""

    id: int
    name: str = ""
    description: str = ""
    user: str | None = None
    datetime_created: dt.datetime | None = None
    command_to_run: str = ""
    environment_variables: list[Any] = dataclasses.field(default_factory=list)
    required_arguments: list[Any] = dataclasses.field(default_factory=list)
    required_arguments_default_values: dict[str, Any] = dataclasses.field(default_factory=dict)

    _required = ("id",)
    _converters = _TYPE_CONVERTERS

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    def sync(self: M) -> M:
        """Refresh this object from the server and return it."""
        fresh = self._manager().get(id=self.id)  # type: ignore[attr-defined]
        self._update_from(fresh)
        return self

    def _put_fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "command_to_run": self.command_to_run,
            "environment_variables": self.environment_variables,
            "required_arguments": self.required_arguments,
            "required_arguments_default_values": self.required_arguments_default_values,
        }

    def put(self: M) -> M:
        """Send this object's fields to the server (full update); returns it refreshed."""
        fresh = self._manager().put(**self._put_fields())  # type: ignore[attr-defined]
        self._update_from(fresh)
        return self


@dataclasses.dataclass(kw_only=True)
class ExecutableTaskType(BaseTaskType):
    """A command run directly on the worker host."""

    json_file_option: str | None = None

    _converters: ClassVar[dict[str, Converter]] = {**_TYPE_CONVERTERS, "json_file_option": _opt_str}

    def _put_fields(self) -> dict[str, Any]:
        return {**super()._put_fields(), "json_file_option": self.json_file_option}


@dataclasses.dataclass(kw_only=True)
class ContainerTaskType(BaseTaskType):
    """A command run in a Docker or Singularity container."""

    logs_path: str | None = None
    results_path: str | None = None
    container_image: str = ""
    container_type: str = ""

    _converters: ClassVar[dict[str, Converter]] = {
        **_TYPE_CONVERTERS,
        "logs_path": _opt_str,
        "results_path": _opt_str,
        "container_image": _str,
        "container_type": _str,
    }

    def _put_fields(self) -> dict[str, Any]:
        return {
            **super()._put_fields(),
            "logs_path": self.logs_path,
            "results_path": self.results_path,
            "container_image": self.container_image,
            "container_type": self.container_type,
        }


class _PutPatchMixin:
    """``put()`` and ``patch()`` (an alias, as in saltant-py) for queues and whitelists."""

    def _put_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def put(self: Any) -> Any:
        """Send this object's fields to the server (full update); returns it refreshed."""
        fresh = self._manager().put(**self._put_fields())
        self._update_from(fresh)
        return self

    def patch(self: Any) -> Any:
        """Same as :meth:`put` at the model level: every field is sent."""
        return self.put()


@dataclasses.dataclass(kw_only=True)
class TaskQueue(_PutPatchMixin, Model):
    """Where instances run; which kinds of task it accepts, and whether it is active."""

    id: int
    user: str | None = None
    name: str = ""
    description: str = ""
    private: bool = False
    runs_executable_tasks: bool = True
    runs_docker_container_tasks: bool = True
    runs_singularity_container_tasks: bool = True
    active: bool = True
    whitelists: list[Any] = dataclasses.field(default_factory=list)

    _required = ("id",)
    _converters: ClassVar[dict[str, Converter]] = {
        "id": _int,
        "user": _opt_str,
        "name": _str,
        "description": _str,
        "private": _bool,
        "runs_executable_tasks": _bool,
        "runs_docker_container_tasks": _bool,
        "runs_singularity_container_tasks": _bool,
        "active": _bool,
        "whitelists": _list,
    }

    def __str__(self) -> str:
        return self.name

    def sync(self: M) -> M:
        """Refresh this object from the server and return it."""
        self._update_from(self._manager().get(id=self.id))  # type: ignore[attr-defined]
        return self

    def _put_fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "private": self.private,
            "runs_executable_tasks": self.runs_executable_tasks,
            "runs_docker_container_tasks": self.runs_docker_container_tasks,
            "runs_singularity_container_tasks": self.runs_singularity_container_tasks,
            "active": self.active,
            "whitelists": self.whitelists,
        }


@dataclasses.dataclass(kw_only=True)
class TaskWhitelist(_PutPatchMixin, Model):
    """The task types a queue may run."""

    id: int
    user: str | None = None
    name: str = ""
    description: str = ""
    whitelisted_container_task_types: list[Any] = dataclasses.field(default_factory=list)
    whitelisted_executable_task_types: list[Any] = dataclasses.field(default_factory=list)

    _required = ("id",)
    _converters: ClassVar[dict[str, Converter]] = {
        "id": _int,
        "user": _opt_str,
        "name": _str,
        "description": _str,
        "whitelisted_container_task_types": _list,
        "whitelisted_executable_task_types": _list,
    }

    def __str__(self) -> str:
        return self.name

    def sync(self: M) -> M:
        """Refresh this object from the server and return it."""
        self._update_from(self._manager().get(id=self.id))  # type: ignore[attr-defined]
        return self

    def _put_fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "whitelisted_container_task_types": self.whitelisted_container_task_types,
            "whitelisted_executable_task_types": self.whitelisted_executable_task_types,
        }


@dataclasses.dataclass(kw_only=True)
class User(Model):
    """A saltant user."""

    username: str
    email: str | None = None

    _required = ("username",)
    _converters: ClassVar[dict[str, Converter]] = {"username": _str, "email": _opt_str}

    def __str__(self) -> str:
        return self.username

    def sync(self: M) -> M:
        """Refresh this object from the server and return it."""
        self._update_from(self._manager().get(self.username))  # type: ignore[attr-defined]
        return self
