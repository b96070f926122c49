"""TLS: a self-signed saltant server is refused by default and trusted with the connection's
``ca_bundle`` extra (sync client, async client, and a DAG run, all built from the connection)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.dag_runs import DagResult, instances_named

from reliability.conftest import admin_client, ensure_demo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    from saltant_provider.testing import LocalSaltantServer
    from saltant_provider.testing.tls import generate_self_signed_cert

    tmp = tmp_path_factory.mktemp("tls")
    cert, key = generate_self_signed_cert(tmp / "pki")
    server = LocalSaltantServer(tls_cert=cert, tls_key=key, logs_dir=tmp / "logs")
    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        yield server, cert
    finally:
        server.stop()


def test_self_signed_server_is_refused_by_default(
    tls_server: tuple[Any, Path], make_conn: Callable[..., str], airflow_db: Path
) -> None:
    from saltant_provider.client.exceptions import SaltantConnectionError
    from saltant_provider.hooks.saltant import SaltantHook

    server, _ = tls_server
    hook = SaltantHook(make_conn(server.url, server.token, timeout=5, max_tries=5))
    started = time.monotonic()
    with pytest.raises(SaltantConnectionError) as caught:
        hook.get_conn().users.list()
    assert time.monotonic() - started < 3, "a certificate failure was retried"
    assert caught.value.permanent
    message = str(caught.value)
    assert "certificate verification failed" in message.lower()
    assert "ca" in message.lower() and "verify" in message.lower()

    ok, text = hook.test_connection()
    assert not ok and "certificate" in text.lower()

    async def async_list() -> None:
        async with await hook.get_async_client() as client:
            await client.test_authentication()

    with pytest.raises(SaltantConnectionError) as async_caught:
        asyncio.run(async_list())
    assert async_caught.value.permanent


def test_tls_failure_through_the_hook_names_the_connection_extra(
    tls_server: tuple[Any, Path], make_conn: Callable[..., str], airflow_db: Path
) -> None:
    from saltant_provider.hooks.saltant import SaltantHook

    # Found as a defect (the hint named the SDK's verify=...); fixed in 747b381.
    server, _ = tls_server
    ok, text = SaltantHook(make_conn(server.url, server.token, timeout=5)).test_connection()
    assert not ok and "certificate" in text.lower()
    assert "ca_bundle" in text


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_ca_bundle_extra_makes_the_server_trusted(
    tls_server: tuple[Any, Path], make_conn: Callable[..., str], airflow_db: Path
) -> None:
    from saltant_provider.hooks.saltant import SaltantHook

    server, cert = tls_server
    hook = SaltantHook(make_conn(server.url, server.token, ca_bundle=str(cert), timeout=5))
    assert hook.get_settings().verify == str(cert)
    ok, text = hook.test_connection()
    assert ok, text
    assert [u.username for u in hook.get_conn().users.list()][:1] == ["admin"]

    async def async_count() -> int:
        async with await hook.get_async_client() as client:
            await client.test_authentication()
            page = await client.executable_task_instances.list_page(None, 1, 1)
            return int(page.count)

    assert asyncio.run(async_count()) >= 0

    off = SaltantHook(make_conn(server.url, server.token, verify_ssl=False, timeout=5))
    assert off.test_connection()[0]


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferred"])
def test_dag_runs_over_tls_with_the_ca_bundle_extra(
    deferrable: bool,
    tls_server: tuple[Any, Path],
    make_conn: Callable[..., str],
    run_dag: Callable[..., DagResult],
) -> None:
    server, cert = tls_server
    client = admin_client(server, verify=str(cert))
    ensure_demo(client)
    conn_id = make_conn(server.url, server.token, ca_bundle=str(cert), timeout=5, max_tries=2)
    result = run_dag(
        f"tls_{'deferred' if deferrable else 'sync'}",
        f"""
        SaltantCreateTaskOperator(
            task_id="job", saltant_conn_id={conn_id!r}, task_type=JOB, task_queue=QUEUE,
            arguments={{"sleep": 0.2}}, poll_interval=0.2, timeout=30,
            deferrable={deferrable!r},
        )
        """,
    )
    assert result.ti_state("job") == "success"
    (inst,) = instances_named(client, result.instance_name("job"))
    assert str(inst.state) == "successful"
    assert result.xcom("job", "saltant_url").startswith(server.root_url)
    client.close()
