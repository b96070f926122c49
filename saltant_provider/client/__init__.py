"""saltant REST client: saltant-py's API (sync) plus an async client for waiting.

``from saltant_provider.client import Client`` replaces ``from saltant.client import Client``.
Importing this package loads ``requests`` but neither Airflow nor ``httpx``; ``AsyncClient``
(and httpx with it) is loaded on first use.
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
from saltant_provider.client.sync import Client, from_env

if TYPE_CHECKING:
    from saltant_provider.client.aio import AsyncClient

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


def __getattr__(name: str) -> Any:
    """Import the async client (and httpx) only when it is asked for."""
    if name == "AsyncClient":
        from saltant_provider.client.aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
