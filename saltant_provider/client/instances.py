"""Sync task instance managers: create, clone, terminate, wait (with a timeout), front-end URL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from saltant_provider.client import checks, core
from saltant_provider.client.base import ModelManager
from saltant_provider.client.exceptions import (
    InvalidRequestError,
    WaitTimeoutError,
)
from saltant_provider.client.models import (
    BaseTaskInstance,
    ContainerTaskInstance,
    ExecutableTaskInstance,
)

I = TypeVar("I", bound=BaseTaskInstance)  # noqa: E741


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
        return self._get(checks.check_uuid(uuid))

    def create(
        self,
        task_type_id: int,
        task_queue_id: int,
        arguments: dict[str, Any] | None = None,
        name: str = "",
    ) -> I:
        """Start a new instance of a task type on a queue. Never re-sent blindly."""
        body = {
            "task_type": checks.check_id(task_type_id, "task_type_id"),
            "task_queue": checks.check_id(task_queue_id, "task_queue_id"),
            "name": name,
            "arguments": checks.check_json({} if arguments is None else arguments, "arguments"),
        }
        if not isinstance(name, str):
            raise InvalidRequestError(f"name must be a string, got {name!r}")
        return self._one(core.write_spec(self._client.base_api_url, self.path, "POST", body))

    def clone(self, uuid: str) -> I:
        """A new instance with the same type, queue, name and arguments."""
        spec = core.action_spec(
            self._client.base_api_url, self.path, checks.check_uuid(uuid), "clone"
        )
        return self._one(spec)

    def clone_many(self, uuids: Iterable[str]) -> list[I]:
        uuids = [checks.check_uuid(u) for u in uuids]
        return [self.clone(u) for u in uuids]

    def terminate(self, uuid: str) -> I:
        """Ask the server to stop the instance; returns it as it is now (not yet terminated)."""
        spec = core.action_spec(
            self._client.base_api_url, self.path, checks.check_uuid(uuid), "terminate"
        )
        return self._one(spec)

    def terminate_many(self, uuids: Iterable[str]) -> list[I]:
        uuids = [checks.check_uuid(u) for u in uuids]
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
        uuid = checks.check_uuid(uuid)
        refresh_period, timeout = checks.check_timing(refresh_period, timeout)
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
        return core.join(root, self.path, checks.check_uuid(uuid))


class ExecutableTaskInstanceManager(BaseTaskInstanceManager[ExecutableTaskInstance]):
    resource = "executable_task_instances"
    model = ExecutableTaskInstance
    kind = "executable task instance"


class ContainerTaskInstanceManager(BaseTaskInstanceManager[ContainerTaskInstance]):
    resource = "container_task_instances"
    model = ContainerTaskInstance
    kind = "container task instance"
