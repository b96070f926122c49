"""The seven sync managers, with saltant-py's method names, parameters and meaning.

One module per kind of resource; this one gathers them.
"""

from __future__ import annotations

from saltant_provider.client.base import ModelManager, UserManager
from saltant_provider.client.instances import (
    BaseTaskInstanceManager,
    ContainerTaskInstanceManager,
    ExecutableTaskInstanceManager,
)
from saltant_provider.client.queues import TaskQueueManager, TaskWhitelistManager
from saltant_provider.client.task_types import (
    BaseTaskTypeManager,
    ContainerTaskTypeManager,
    ExecutableTaskTypeManager,
)

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
]
