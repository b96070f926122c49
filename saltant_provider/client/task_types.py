"""Sync task type managers (executable and container): create, put, get by id or name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from saltant_provider.client import checks, core
from saltant_provider.client.base import ByIdOrNameMixin
from saltant_provider.client.models import (
    BaseTaskType,
    ContainerTaskType,
    ExecutableTaskType,
)

T = TypeVar("T", bound=BaseTaskType)


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
        "environment_variables": checks.check_json(
            list(environment_variables or []), "environment_variables", list
        ),
        "required_arguments": checks.check_json(
            list(required_arguments or []), "required_arguments", list
        ),
        "required_arguments_default_values": checks.check_json(
            {} if required_arguments_default_values is None else required_arguments_default_values,
            "required_arguments_default_values",
        ),
    }
    if extra is not None:
        body.update(checks.check_json(dict(extra), "extra data"))
    return body


class BaseTaskTypeManager(ByIdOrNameMixin[T]):
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
            self._client.base_api_url, self.path, "PUT", body, checks.check_id(id, "id")
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
