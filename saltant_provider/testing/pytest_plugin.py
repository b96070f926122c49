"""pytest plugin: local saltant-compatible servers as fixtures.

Enable it in a ``conftest.py``::

    pytest_plugins = ["saltant_provider.testing.pytest_plugin"]

- ``saltant_server`` (session): one server with a random admin token and a non-admin user
  ``alice``; has ``.url``, ``.root_url``, ``.token``, ``.users``, ``.logs_dir``.
- ``saltant_server_factory`` (function): ``factory(**options)`` starts another server with
  :class:`~saltant_provider.testing.LocalSaltantServer` options (latency, fault_rate,
  fault_kinds, slow_seconds, max_jobs, no_worker, users, tls_cert, tls_key, db, ...);
  every server it started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import LocalSaltantServer


@pytest.fixture(scope="session")
def saltant_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSaltantServer]:
    """A shared local saltant server for the whole test session."""
    logs = tmp_path_factory.mktemp("saltant-logs")
    server = LocalSaltantServer(users={"alice": None}, logs_dir=logs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def saltant_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LocalSaltantServer]]:
    """Start extra servers with options; all are stopped when the test ends."""
    started: list[LocalSaltantServer] = []

    def factory(**options: Any) -> LocalSaltantServer:
        options.setdefault("logs_dir", tmp_path_factory.mktemp("saltant-logs"))
        server = LocalSaltantServer(**options)
        started.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()
