"""saltant REST client: saltant-py's API (sync) plus an async client for waiting.

``from saltant_provider.client import Client`` replaces ``from saltant.client import Client``.
Importing this package loads neither Airflow nor an HTTP library: ``Client`` (and ``requests``
with it) and ``AsyncClient`` (and ``httpx``) are loaded on first use, so DAG files that only
name states or errors pay nothing for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from saltant_provider.client.core import Page, RetryPolicy, is_retryable
from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadEnvironmentError,
    BadHttpRequestError,
    InvalidRequestError,
    NotFoundError,
    SaltantConnectionError,
    SaltantError,
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
    TaskQueue,
    TaskWhitelist,
    User,
)
from saltant_provider.client.states import TERMINAL_STATES, UNFINISHED_STATES, TaskState

if TYPE_CHECKING:
    from saltant_provider.client.aio import AsyncClient
    from saltant_provider.client.sync import Client, from_env

__all__ = [
    "TERMINAL_STATES",
    "UNFINISHED_STATES",
    "AsyncClient",
    "AuthenticationError",
    "BadEnvironmentError",
    "BadHttpRequestError",
    "BaseTaskInstance",
    "BaseTaskType",
    "Client",
    "ContainerTaskInstance",
    "ContainerTaskType",
    "ExecutableTaskInstance",
    "ExecutableTaskType",
    "InvalidRequestError",
    "NotFoundError",
    "Page",
    "RetryPolicy",
    "SaltantConnectionError",
    "SaltantError",
    "TaskQueue",
    "TaskState",
    "TaskWhitelist",
    "UnexpectedResponseError",
    "User",
    "WaitTimeoutError",
    "from_env",
    "is_retryable",
]


_LAZY = {
    "AsyncClient": "saltant_provider.client.aio",
    "Client": "saltant_provider.client.sync",
    "from_env": "saltant_provider.client.sync",
}


def __getattr__(name: str) -> Any:
    """Import the clients (and requests or httpx with them) only when they are asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
