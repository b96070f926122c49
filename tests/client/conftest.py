"""Shared fixtures for the client's integration tests against the local saltant server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from saltant_provider.client import Client


def unique(prefix: str) -> str:
    """Names are unique on the server (and the session's server is shared), so suffix them."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    """Objects one test module works with: an echo type, a sleeper, a whitelist, a queue."""

    client: Client
    echo: Any
    sleeper: Any
    failer: Any
    container: Any
    whitelist: Any
    queue: Any


@pytest.fixture
def client(saltant_server: Any) -> Iterator[Client]:
    c = Client(saltant_server.url, saltant_server.token, max_tries=3, backoff_base=0.05)
    yield c
    c.close()


@pytest.fixture(scope="module")
def world(saltant_server: Any) -> Iterator[World]:
    c = Client(saltant_server.url, saltant_server.token, max_tries=3, backoff_base=0.05)
    echo = c.executable_task_types.create(
        name=unique("echo"),
        command_to_run="echo",
        description="prints its arguments",
        required_arguments=["msg"],
        required_arguments_default_values={"msg": "hi"},
    )
    sleeper = c.executable_task_types.create(name=unique("sleeper"), command_to_run="sleep 30")
    failer = c.executable_task_types.create(name=unique("failer"), command_to_run="false")
    container = c.container_task_types.create(
        name=unique("ctype"),
        command_to_run="echo hi",
        container_image="ubuntu:22.04",
        container_type="docker",
        logs_path="/logs",
        results_path="/results",
    )
    whitelist = c.task_whitelists.create(
        name=unique("wl"),
        whitelisted_executable_task_types=[echo.id, sleeper.id, failer.id],
        whitelisted_container_task_types=[container.id],
    )
    queue = c.task_queues.create(name=unique("q"), whitelists=[whitelist.id])
    yield World(c, echo, sleeper, failer, container, whitelist, queue)
    c.close()
