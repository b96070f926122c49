"""1,000 clients polling at once, each on its own keep-alive connection."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time

import pytest

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api

CLIENTS = 1000


async def _poll(port: int, path: str, token: str, rounds: int, statuses: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Token {token}\r\n\r\n").encode()
    try:
        for _ in range(rounds):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            statuses.append(head.split(b" ")[1])
            await asyncio.sleep(0.1)
    finally:
        writer.close()


def test_thousand_polling_clients(saltant_server: LocalSaltantServer, api: Api) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CLIENTS + 200:
        if hard < CLIENTS + 200:
            pytest.skip(f"open-file limit {hard} is too low for {CLIENTS} connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (CLIENTS + 200, hard))
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    path = f"/api/executabletaskinstances/{inst['uuid']}/"
    statuses: list[bytes] = []

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(
            _poll(saltant_server.port, path, saltant_server.token, 3, statuses)
            for _ in range(CLIENTS))), timeout=60)

    started = time.monotonic()
    asyncio.run(main())
    assert statuses == [b"200"] * (CLIENTS * 3)
    assert time.monotonic() - started < 30


def test_server_imports_nothing_from_client_or_airflow() -> None:
    code = ("import sys, saltant_provider.testing.app, saltant_provider.testing.__main__;"
            "print([m for m in sys.modules"
            " if m.startswith(('airflow', 'saltant_provider.client'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
