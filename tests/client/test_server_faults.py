"""The client against the local server's own fault injection, latency and TLS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from saltant_provider.client import AsyncClient, Client, is_retryable
from saltant_provider.client.exceptions import SaltantConnectionError

from .conftest import unique


def _client(server: Any, **kw: Any) -> Client:
    kw.setdefault("max_tries", 10)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    return Client(server.url, server.token, test_if_authenticated=False, **kw)


def _create_or_find(manager: Any, name: str, **kw: Any) -> Any:
    """Create; if the answer was lost, look the object up by its unique name (safe to GET)."""
    try:
        return manager.create(name, **kw)
    except SaltantConnectionError:
        return manager.get(name=name)


def test_creates_are_never_duplicated_under_dropped_answers(saltant_server_factory: Any) -> None:
    server = saltant_server_factory(
        fault_rate=0.4, fault_kinds=["drop"], fault_seed=3, no_worker=True
    )
    c = _client(server)
    echo = _create_or_find(c.executable_task_types, unique("echo"), command_to_run="echo")
    wl = _create_or_find(
        c.task_whitelists, unique("wl"), whitelisted_executable_task_types=[echo.id]
    )
    queue = _create_or_find(c.task_queues, unique("q"), whitelists=[wl.id])
    name = unique("dup")
    lost = 0
    calls = 12
    for _ in range(calls):
        try:
            c.executable_task_instances.create(echo.id, queue.id, name=name)
        except SaltantConnectionError as exc:
            assert exc.request_sent and is_retryable(exc)
            lost += 1
    created = c.executable_task_instances.list({"name": name})
    assert lost > 0
    assert len(created) == calls  # one object per call: the lost answers were not re-sent


def test_latency_beyond_the_timeout_is_a_connection_error(saltant_server_factory: Any) -> None:
    server = saltant_server_factory(latency=0.5, no_worker=True)
    with pytest.raises(SaltantConnectionError, match="Timeout"):
        _client(server, default_timeout=0.1, max_tries=2).users.get("admin")


async def test_async_reads_survive_faults(saltant_server_factory: Any) -> None:
    server = saltant_server_factory(
        fault_rate=0.4, fault_kinds=["5xx", "drop"], fault_seed=11, no_worker=True
    )
    async with AsyncClient(
        server.url, server.token, max_tries=10, backoff_base=0.01, backoff_max=0.05
    ) as ac:
        for _ in range(15):
            page = await ac.executable_task_instances.list_page(page_size=1)
            assert page.count >= 0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_ca_bundle(saltant_server_factory: Any, tmp_path: Path) -> None:
    from saltant_provider.testing.tls import generate_self_signed_cert

    cert, key = generate_self_signed_cert(tmp_path)
    server = saltant_server_factory(tls_cert=cert, tls_key=key, no_worker=True)
    assert server.url.startswith("https://")
    Client(server.url, server.token, verify=str(cert)).users.get("admin")
    Client(server.url, server.token, verify=False).users.get("admin")
    with pytest.raises(SaltantConnectionError, match="verify=") as info:
        Client(server.url, server.token, max_tries=5)  # default: verification on
    assert not is_retryable(info.value)


async def test_async_tls_with_ca_bundle(saltant_server_factory: Any, tmp_path: Path) -> None:
    from saltant_provider.testing.tls import generate_self_signed_cert

    cert, key = generate_self_signed_cert(tmp_path)
    server = saltant_server_factory(tls_cert=cert, tls_key=key, no_worker=True)
    async with AsyncClient(server.url, server.token, verify=str(cert)) as ac:
        await ac.test_authentication()
    async with AsyncClient(server.url, server.token, max_tries=5) as ac:
        with pytest.raises(SaltantConnectionError, match="verify=") as info:
            await ac.test_authentication()
        assert not is_retryable(info.value)
