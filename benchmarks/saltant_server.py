"""The local saltant-compatible server for benchmarks: start it, seed it over its HTTP API.

Everything here speaks raw HTTP (httpx) rather than the client under test, so seeding and
finishing instances cost the benchmarked client nothing and do not depend on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from saltant_provider.testing import LocalSaltantServer

#: Concurrent requests when seeding or finishing (the server runs on one core).
CONCURRENCY = 32
REQUEST_TIMEOUT = 60.0


@dataclass
class BenchServer:
    """A started no-worker server with one task type and one queue to create instances on."""

    server: LocalSaltantServer
    task_type: int = 0
    task_queue: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers(), timeout=REQUEST_TIMEOUT, trust_env=False
        )


async def _setup(bench: BenchServer) -> None:
    async with bench.http() as http:
        r = await http.post(
            "executabletasktypes/", json={"name": "bench-noop", "command_to_run": "true"}
        )
        r.raise_for_status()
        bench.task_type = int(r.json()["id"])
        r = await http.post(
            "taskwhitelists/",
            json={"name": "bench", "whitelisted_executable_task_types": [bench.task_type]},
        )
        r.raise_for_status()
        r = await http.post("taskqueues/", json={"name": "bench", "whitelists": [r.json()["id"]]})
        r.raise_for_status()
        bench.task_queue = int(r.json()["id"])


@contextlib.contextmanager
def bench_server(**options: Any) -> Iterator[BenchServer]:
    """A no-worker local server (own subprocess) with a task type and a queue; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-saltant-logs-") as logs:
        server = LocalSaltantServer(no_worker=True, logs_dir=logs, **options)
        server.start()
        try:
            bench = BenchServer(server)
            asyncio.run(_setup(bench))
            yield bench
        finally:
            server.stop()


async def create_instances(bench: BenchServer, count: int, prefix: str = "bench") -> list[str]:
    """Create ``count`` instances with concurrent POSTs; return their uuids in creation order."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    body = {"task_type": bench.task_type, "task_queue": bench.task_queue}

    async with bench.http() as http:

        async def one(i: int) -> str:
            async with semaphore:
                r = await http.post(
                    "executabletaskinstances/", json={**body, "name": f"{prefix}-{i}"}
                )
                r.raise_for_status()
                return str(r.json()["uuid"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def finish(http: httpx.AsyncClient, uuid: str, state: str = "successful") -> None:
    """Report a finished job the way saltant's worker does."""
    r = await http.patch(f"updatetaskinstancestatus/{uuid}/", json={"state": state})
    r.raise_for_status()


async def finish_all(bench: BenchServer, uuids: Sequence[str]) -> None:
    """Finish every instance (clean-up after a wait benchmark)."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with bench.http() as http:

        async def one(uuid: str) -> None:
            async with semaphore:
                await finish(http, uuid)

        await asyncio.gather(*(one(u) for u in uuids))
