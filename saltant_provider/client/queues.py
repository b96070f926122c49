"""Sync task queue and task whitelist managers: create, put, patch, get by id or name."""

from __future__ import annotations

from typing import Any, TypeVar

from saltant_provider.client import checks, core
from saltant_provider.client.base import ByIdOrNameMixin
from saltant_provider.client.models import (
    Model,
    TaskQueue,
    TaskWhitelist,
)

M = TypeVar("M", bound=Model)


def _patch_body(**fields: Any) -> dict[str, Any]:
    """Only the fields given (not None), as saltant-py's patch()."""
    return {key: value for key, value in fields.items() if value is not None}


class _PutPatchManager(ByIdOrNameMixin[M]):
    def _write(self, method: str, id: int, body: dict[str, Any]) -> M:
        spec = core.write_spec(
            self._client.base_api_url, self.path, method, body, checks.check_id(id, "id")
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
