"""The seven sync managers, with saltant-py's method names, parameters and meaning.

A manager builds request specs (``core``), hands them to its client's transport and turns the
data into models (``models``). Lists are fetched page by page; ``iter()`` yields lazily.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from saltant_provider.client import core
from saltant_provider.client.exceptions import (
    InvalidRequestError,
    NotFoundError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from saltant_provider.client.models import (
    BaseTaskInstance,
    BaseTaskType,
    ContainerTaskInstance,
    ContainerTaskType,
    ExecutableTaskInstance,
    ExecutableTaskType,
    Model,
    TaskQueue,
    TaskWhitelist,
    User,
)

if TYPE_CHECKING:
    from saltant_provider.client.sync import Client

log = logging.getLogger("saltant_provider.client")

M = TypeVar("M", bound=Model)
I = TypeVar("I", bound=BaseTaskInstance)  # noqa: E741
T = TypeVar("T", bound=BaseTaskType)


class ModelManager(Generic[M]):
    """Get, list and iterate one kind of saltant object."""

    resource: str = ""
    model: type[M]
    is_async = False

    def __init__(self, _client: Client) -> None:
        self._client = _client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client.base_api_url!r})"

    @property
    def path(self) -> str:
        return core.PATHS[self.resource]

    # saltant-py's public helpers, kept so code that used them still runs.
    @property
    def list_url(self) -> str:
        return self.path

    @property
    def detail_url(self) -> str:
        return self.path + "{id}/"

    def response_data_to_model_instance(self, response_data: object) -> M:
        """A model from one object of response data (unknown fields ignored)."""
        return self.model.from_json(response_data, self)

    def response_data_to_model_instances_list(self, response_data: object) -> builtins.list[M]:
        """Models from a page of response data (``{"results": [...]}``)."""
        spec = core.RequestSpec("GET", core.join(self._client.base_api_url, self.path))
        _, _, raw = core.parse_page_envelope(spec, response_data)
        return [self.model.from_json(item, self) for item in raw]

    @staticmethod
    def validate_request_success(
        response_text: str, request_url: str, status_code: int, expected_status_code: int
    ) -> None:
        """Raise the client's error if ``status_code`` is not the one expected."""
        if status_code != expected_status_code:
            spec = core.RequestSpec("GET", request_url)
            if 200 <= status_code < 300:
                raise UnexpectedResponseError(
                    f"expected HTTP {expected_status_code}, got {status_code}",
                    status_code=status_code,
                    url=request_url,
                )
            raise core.error_for(spec, status_code, {}, response_text.encode("utf-8", "replace"))

    def _send(self, spec: core.RequestSpec) -> Any:
        return self._client._send(spec)

    def _one(self, spec: core.RequestSpec) -> M:
        return self.model.from_json(self._send(spec), self)

    def _get(self, key: object) -> M:
        return self._one(core.get_spec(self._client.base_api_url, self.path, key))

    def list_page(
        self,
        filters: Mapping[str, Any] | None = None,
        page: int = 1,
        page_size: int = core.DEFAULT_PAGE_SIZE,
    ) -> core.Page:
        """One page of results: ``Page(count, next, results)``."""
        params = core.check_filters(self.resource, filters)
        page, page_size = core.check_page(page, page_size)
        spec = core.list_spec(self._client.base_api_url, self.path, params, page, page_size)
        count, nxt, raw = core.parse_page_envelope(spec, self._send(spec))
        return core.Page(count, nxt, [self.model.from_json(item, self) for item in raw])

    def iter(
        self, filters: Mapping[str, Any] | None = None, page_size: int = core.DEFAULT_PAGE_SIZE
    ) -> Iterator[M]:
        """Yield every matching object, fetching one page at a time (memory stays flat)."""
        params = core.check_filters(self.resource, filters)
        _, page_size = core.check_page(1, page_size)
        api = self._client.base_api_url
        page = 1
        while True:
            spec = core.list_spec(api, self.path, params, page, page_size)
            try:
                data = self._send(spec)
            except NotFoundError:
                if page == 1:
                    raise
                return  # "Invalid page.": the list shrank under us
            count, nxt, raw = core.parse_page_envelope(spec, data)
            for item in raw:
                yield self.model.from_json(item, self)
            if not core.has_next_page(page, page_size, count, nxt, len(raw)):
                return
            page += 1

    def list(self, filters: Mapping[str, Any] | None = None) -> list[M]:
        """Every matching object, fetched page by page.

        As in saltant-py, ``page`` in ``filters`` returns just that page, and ``page_size``
        sets the page size.
        """
        core.check_filters(self.resource, filters)
        filters = dict(filters or {})
        page_size = filters.pop("page_size", core.DEFAULT_PAGE_SIZE)
        if "page" in filters:
            return self.list_page(filters, filters.pop("page"), page_size).results
        # Instances are listed newest first, so one created while we page shifts the rest by
        # one and an object can show up on two pages: keep the first sighting only.
        seen: set[object] = set()
        result = []
        for item in self.iter(filters, page_size=page_size):
            key = _identity(item)
            if key not in seen:
                seen.add(key)
                result.append(item)
        return result


def _identity(model: Model) -> object:
    for name in ("uuid", "id", "username"):
        if hasattr(model, name):
            return getattr(model, name)
    return id(model)  # pragma: no cover


class _ByIdOrNameMixin(ModelManager[M]):
    def get(self, id: int | None = None, name: str | None = None) -> M:
        """The object with this ``id``, or else with this ``name`` (exactly one of the two)."""
        key, value = core.check_get_key(id, name)
        if key == "id":
            return self._get(value)
        found = self.list_page({"name": value}, 1, 2).results
        if not found:
            raise NotFoundError(
                f"no {self.resource[:-1].replace('_', ' ')} named {value!r}",
                status_code=404,
                url=core.join(self._client.base_api_url, self.path),
                method="GET",
            )
        return found[0]


# --------------------------------------------------------------------------- instances
class BaseTaskInstanceManager(ModelManager[I]):
    """Create, clone, terminate and wait for task instances."""

    kind = "task instance"

    @property
    def clone_url(self) -> str:
        return self.path + "{id}/clone/"

    @property
    def terminate_url(self) -> str:
        return self.path + "{id}/terminate/"

    def get(self, uuid: str) -> I:
        """The instance with this uuid."""
        return self._get(core.check_uuid(uuid))

    def create(
        self,
        task_type_id: int,
        task_queue_id: int,
        arguments: dict[str, Any] | None = None,
        name: str = "",
    ) -> I:
        """Start a new instance of a task type on a queue. Never re-sent blindly."""
        body = {
            "task_type": core.check_id(task_type_id, "task_type_id"),
            "task_queue": core.check_id(task_queue_id, "task_queue_id"),
            "name": name,
            "arguments": core.check_json({} if arguments is None else arguments, "arguments"),
        }
        if not isinstance(name, str):
            raise InvalidRequestError(f"name must be a string, got {name!r}")
        return self._one(core.write_spec(self._client.base_api_url, self.path, "POST", body))

    def clone(self, uuid: str) -> I:
        """A new instance with the same type, queue, name and arguments."""
        spec = core.action_spec(
            self._client.base_api_url, self.path, core.check_uuid(uuid), "clone"
        )
        return self._one(spec)

    def clone_many(self, uuids: Iterable[str]) -> list[I]:
        uuids = [core.check_uuid(u) for u in uuids]
        return [self.clone(u) for u in uuids]

    def terminate(self, uuid: str) -> I:
        """Ask the server to stop the instance; returns it as it is now (not yet terminated)."""
        spec = core.action_spec(
            self._client.base_api_url, self.path, core.check_uuid(uuid), "terminate"
        )
        return self._one(spec)

    def terminate_many(self, uuids: Iterable[str]) -> list[I]:
        uuids = [core.check_uuid(u) for u in uuids]
        return [self.terminate(u) for u in uuids]

    def wait_until_finished(
        self,
        uuid: str,
        refresh_period: float = core.DEFAULT_REFRESH_PERIOD,
        timeout: float | None = None,
    ) -> I:
        """Poll until the instance is terminal; after ``timeout`` s raise WaitTimeoutError.

        A timed-out wait leaves the remote instance alone.
        """
        uuid = core.check_uuid(uuid)
        refresh_period, timeout = core.check_timing(refresh_period, timeout)
        clock: Callable[[], float] = self._client._clock
        deadline = None if timeout is None else clock() + timeout
        while True:
            instance = self.get(uuid)
            if instance.state.is_terminal:
                return instance
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                raise WaitTimeoutError(
                    core.wait_timeout_message(self.kind, uuid, timeout or 0, instance.state),
                    uuid=uuid,
                    last_state=instance.state.value,
                )
            pause = refresh_period if remaining is None else min(refresh_period, remaining)
            self._client._sleep(pause)

    def front_end_url(self, uuid: str) -> str:
        """The instance's page in saltant's browser front end."""
        root = core.server_root_url(self._client.base_api_url)
        return core.join(root, self.path, core.check_uuid(uuid))


class ExecutableTaskInstanceManager(BaseTaskInstanceManager[ExecutableTaskInstance]):
    resource = "executable_task_instances"
    model = ExecutableTaskInstance
    kind = "executable task instance"


class ContainerTaskInstanceManager(BaseTaskInstanceManager[ContainerTaskInstance]):
    resource = "container_task_instances"
    model = ContainerTaskInstance
    kind = "container task instance"


# --------------------------------------------------------------------------- task types
def _type_body(
    name: str,
    description: str,
    command_to_run: str,
    environment_variables: Any,
    required_arguments: Any,
    required_arguments_default_values: Any,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    body = {
        "name": name,
        "description": description,
        "command_to_run": command_to_run,
        "environment_variables": core.check_json(
            list(environment_variables or []), "environment_variables", list
        ),
        "required_arguments": core.check_json(
            list(required_arguments or []), "required_arguments", list
        ),
        "required_arguments_default_values": core.check_json(
            {} if required_arguments_default_values is None else required_arguments_default_values,
            "required_arguments_default_values",
        ),
    }
    if extra is not None:
        body.update(core.check_json(dict(extra), "extra data"))
    return body


class BaseTaskTypeManager(_ByIdOrNameMixin[T]):
    """Create, replace and look up task types."""

    def create(
        self,
        name: str,
        command_to_run: str,
        description: str = "",
        environment_variables: list[str] | None = None,
        required_arguments: list[str] | None = None,
        required_arguments_default_values: dict[str, Any] | None = None,
        extra_data_to_post: Mapping[str, Any] | None = None,
    ) -> T:
        body = _type_body(
            name,
            description,
            command_to_run,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra_data_to_post,
        )
        return self._one(core.write_spec(self._client.base_api_url, self.path, "POST", body))

    def put(
        self,
        id: int,
        name: str,
        description: str,
        command_to_run: str,
        environment_variables: list[str],
        required_arguments: list[str],
        required_arguments_default_values: dict[str, Any],
        extra_data_to_put: Mapping[str, Any] | None = None,
    ) -> T:
        body = _type_body(
            name,
            description,
            command_to_run,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra_data_to_put,
        )
        spec = core.write_spec(
            self._client.base_api_url, self.path, "PUT", body, core.check_id(id, "id")
        )
        return self._one(spec)


class ExecutableTaskTypeManager(BaseTaskTypeManager[ExecutableTaskType]):
    resource = "executable_task_types"
    model = ExecutableTaskType

    def create(  # type: ignore[override]
        self,
        name: str,
        command_to_run: str,
        description: str = "",
        environment_variables: list[str] | None = None,
        required_arguments: list[str] | None = None,
        required_arguments_default_values: dict[str, Any] | None = None,
        json_file_option: str | None = None,
        extra_data_to_post: Mapping[str, Any] | None = None,
    ) -> ExecutableTaskType:
        extra = {**(extra_data_to_post or {}), "json_file_option": json_file_option}
        return super().create(
            name,
            command_to_run,
            description,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra,
        )

    def put(  # type: ignore[override]
        self,
        id: int,
        name: str,
        description: str,
        command_to_run: str,
        environment_variables: list[str],
        required_arguments: list[str],
        required_arguments_default_values: dict[str, Any],
        json_file_option: str | None,
        extra_data_to_put: Mapping[str, Any] | None = None,
    ) -> ExecutableTaskType:
        extra = {**(extra_data_to_put or {}), "json_file_option": json_file_option}
        return super().put(
            id,
            name,
            description,
            command_to_run,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra,
        )


class ContainerTaskTypeManager(BaseTaskTypeManager[ContainerTaskType]):
    resource = "container_task_types"
    model = ContainerTaskType

    def create(  # type: ignore[override]
        self,
        name: str,
        command_to_run: str,
        container_image: str,
        container_type: str,
        description: str = "",
        logs_path: str = "",
        results_path: str = "",
        environment_variables: list[str] | None = None,
        required_arguments: list[str] | None = None,
        required_arguments_default_values: dict[str, Any] | None = None,
        extra_data_to_post: Mapping[str, Any] | None = None,
    ) -> ContainerTaskType:
        extra = {
            **(extra_data_to_post or {}),
            "container_image": container_image,
            "container_type": container_type,
            "logs_path": logs_path,
            "results_path": results_path,
        }
        return super().create(
            name,
            command_to_run,
            description,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra,
        )

    def put(  # type: ignore[override]
        self,
        id: int,
        name: str,
        description: str,
        command_to_run: str,
        environment_variables: list[str],
        required_arguments: list[str],
        required_arguments_default_values: dict[str, Any],
        logs_path: str,
        results_path: str,
        container_image: str,
        container_type: str,
        extra_data_to_put: Mapping[str, Any] | None = None,
    ) -> ContainerTaskType:
        extra = {
            **(extra_data_to_put or {}),
            "logs_path": logs_path,
            "results_path": results_path,
            "container_image": container_image,
            "container_type": container_type,
        }
        return super().put(
            id,
            name,
            description,
            command_to_run,
            environment_variables,
            required_arguments,
            required_arguments_default_values,
            extra,
        )


# --------------------------------------------------------------------------- queues etc.
def _patch_body(**fields: Any) -> dict[str, Any]:
    """Only the fields given (not None), as saltant-py's patch()."""
    return {key: value for key, value in fields.items() if value is not None}


class _PutPatchManager(_ByIdOrNameMixin[M]):
    def _write(self, method: str, id: int, body: dict[str, Any]) -> M:
        spec = core.write_spec(
            self._client.base_api_url, self.path, method, body, core.check_id(id, "id")
        )
        return self._one(spec)

    def _create(self, body: dict[str, Any]) -> M:
        return self._one(core.write_spec(self._client.base_api_url, self.path, "POST", body))


class TaskQueueManager(_PutPatchManager[TaskQueue]):
    resource = "task_queues"
    model = TaskQueue

    def create(
        self,
        name: str,
        description: str = "",
        private: bool = False,
        runs_executable_tasks: bool = True,
        runs_docker_container_tasks: bool = True,
        runs_singularity_container_tasks: bool = True,
        active: bool = True,
        whitelists: list[int] | None = None,
    ) -> TaskQueue:
        return self._create(
            {
                "name": name,
                "description": description,
                "private": private,
                "runs_executable_tasks": runs_executable_tasks,
                "runs_docker_container_tasks": runs_docker_container_tasks,
                "runs_singularity_container_tasks": runs_singularity_container_tasks,
                "active": active,
                "whitelists": list(whitelists or []),
            }
        )

    def patch(
        self,
        id: int,
        name: str | None = None,
        description: str | None = None,
        private: bool | None = None,
        runs_executable_tasks: bool | None = None,
        runs_docker_container_tasks: bool | None = None,
        runs_singularity_container_tasks: bool | None = None,
        active: bool | None = None,
        whitelists: list[int] | None = None,
    ) -> TaskQueue:
        return self._write(
            "PATCH",
            id,
            _patch_body(
                name=name,
                description=description,
                private=private,
                runs_executable_tasks=runs_executable_tasks,
                runs_docker_container_tasks=runs_docker_container_tasks,
                runs_singularity_container_tasks=runs_singularity_container_tasks,
                active=active,
                whitelists=whitelists,
            ),
        )

    def put(
        self,
        id: int,
        name: str,
        description: str,
        private: bool,
        runs_executable_tasks: bool,
        runs_docker_container_tasks: bool,
        runs_singularity_container_tasks: bool,
        active: bool,
        whitelists: list[int],
    ) -> TaskQueue:
        return self._write(
            "PUT",
            id,
            {
                "name": name,
                "description": description,
                "private": private,
                "runs_executable_tasks": runs_executable_tasks,
                "runs_docker_container_tasks": runs_docker_container_tasks,
                "runs_singularity_container_tasks": runs_singularity_container_tasks,
                "active": active,
                "whitelists": list(whitelists),
            },
        )


class TaskWhitelistManager(_PutPatchManager[TaskWhitelist]):
    resource = "task_whitelists"
    model = TaskWhitelist

    def create(
        self,
        name: str,
        description: str = "",
        whitelisted_container_task_types: list[int] | None = None,
        whitelisted_executable_task_types: list[int] | None = None,
    ) -> TaskWhitelist:
        return self._create(
            {
                "name": name,
                "description": description,
                "whitelisted_container_task_types": list(whitelisted_container_task_types or []),
                "whitelisted_executable_task_types": list(whitelisted_executable_task_types or []),
            }
        )

    def patch(
        self,
        id: int,
        name: str | None = None,
        description: str | None = None,
        whitelisted_container_task_types: list[int] | None = None,
        whitelisted_executable_task_types: list[int] | None = None,
    ) -> TaskWhitelist:
        return self._write(
            "PATCH",
            id,
            _patch_body(
                name=name,
                description=description,
                whitelisted_container_task_types=whitelisted_container_task_types,
                whitelisted_executable_task_types=whitelisted_executable_task_types,
            ),
        )

    def put(
        self,
        id: int,
        name: str,
        description: str,
        whitelisted_container_task_types: list[int],
        whitelisted_executable_task_types: list[int],
    ) -> TaskWhitelist:
        return self._write(
            "PUT",
            id,
            {
                "name": name,
                "description": description,
                "whitelisted_container_task_types": list(whitelisted_container_task_types),
                "whitelisted_executable_task_types": list(whitelisted_executable_task_types),
            },
        )


class UserManager(ModelManager[User]):
    resource = "users"
    model = User

    def get(self, username: str) -> User:
        """The user with this username."""
        return self._get(core.check_username(username))


__all__ = [
    "BaseTaskInstanceManager",
    "BaseTaskTypeManager",
    "ContainerTaskInstanceManager",
    "ContainerTaskTypeManager",
    "ExecutableTaskInstanceManager",
    "ExecutableTaskTypeManager",
    "ModelManager",
    "TaskQueueManager",
    "TaskWhitelistManager",
    "UserManager",
    "log",
]
