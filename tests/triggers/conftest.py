"""Fixtures for trigger tests over real HTTP: Airflow connections, task types, request counts."""

from __future__ import annotations

import asyncio
import json
import os
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saltant_provider.client import Client


@pytest.fixture(autouse=True)
def _airflow_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A temporary AIRFLOW_HOME for these tests unless the runner chose one (scripts/test does).

    Only for the duration of each test: other test directories and the processes they start
    keep whatever home they were given.
    """
    if not os.environ.get("AIRFLOW_HOME"):
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuidlib.uuid4().hex[:10]}"


ConnFactory = Callable[..., str]


@pytest.fixture
def make_conn(monkeypatch: pytest.MonkeyPatch) -> ConnFactory:
    """``make_conn(server, token=None, **extras)`` -> a fresh Airflow connection id (env var)."""

    def make(server: Any, token: str | None = None, **extras: Any) -> str:
        conn_id = unique("saltant_test").replace("-", "_")
        value: dict[str, Any] = {
            "conn_type": "saltant",
            "host": server.url,
            "password": token if token is not None else server.token,
        }
        if extras:
            value["extra"] = extras
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        return conn_id

    return make


@dataclass
class Types:
    """Task types and a queue on one server: ``ok`` exits 0, ``bad`` exits 1, ``slow`` sleeps."""

    client: Client
    ok: int
    bad: int
    slow: int
    queue: int
    server: Any

    def create(self, type_id: int, name: str = "") -> str:
        inst = self.client.executable_task_instances.create(type_id, self.queue, name=name)
        return str(inst.uuid)

    async def acreate(self, type_id: int, n: int = 1) -> list[str]:
        return await asyncio.to_thread(lambda: [self.create(type_id) for _ in range(n)])

    async def set_state(self, uuids: list[str], state: str) -> None:
        """Report states the way a saltant worker does (PATCH updatetaskinstancestatus)."""
        headers = {"Authorization": f"Token {self.server.token}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            for u in uuids:
                for _ in range(20):  # the server may inject faults; this is idempotent
                    try:
                        r = await http.patch(
                            f"{self.server.url}updatetaskinstancestatus/{u}/", json={"state": state}
                        )
                    except httpx.HTTPError:
                        continue
                    if r.status_code == 200:
                        break
                else:
                    raise AssertionError(f"could not set {u} to {state}")


def make_types(server: Any) -> Types:
    c = Client(server.url, server.token, max_tries=8, backoff_base=0.05)
    ok = c.executable_task_types.create(name=unique("ok"), command_to_run="true")
    bad = c.executable_task_types.create(name=unique("bad"), command_to_run="false")
    slow = c.executable_task_types.create(name=unique("slow"), command_to_run="sleep 30")
    wl = c.task_whitelists.create(
        name=unique("wl"), whitelisted_executable_task_types=[ok.id, bad.id, slow.id]
    )
    q = c.task_queues.create(name=unique("q"), whitelists=[wl.id])
    return Types(c, ok.id, bad.id, slow.id, q.id, server)


@pytest.fixture(scope="module")
def types(saltant_server: Any) -> Iterator[Types]:
    """Types on the session server, whose built-in worker really runs the jobs."""
    t = make_types(saltant_server)
    yield t
    t.client.close()


@dataclass
class RequestLog:
    """Every HTTP request the async clients built by the hook sent (counted client side)."""

    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    #: Called with every response (before the client reads it).
    on_response: list[Callable[[httpx.Response], None]] = field(default_factory=list)

    def record(self, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        self.requests.append((request.method, url.path, parse_qs(url.query)))

    @property
    def listings(self) -> int:
        return sum(1 for _, path, q in self.requests if "state__in" in q)

    @property
    def gets(self) -> int:
        return sum(
            1
            for method, path, q in self.requests
            if method == "GET" and "state__in" not in q and path.rstrip("/").count("/") >= 3
        )

    @property
    def faults(self) -> int:
        """Requests that got a 5xx or no answer at all."""
        unanswered = len(self.requests) - len(self.statuses)
        return unanswered + sum(1 for s in self.statuses if s >= 500)

    def kinds(self) -> Counter[str]:
        return Counter("list" if "state__in" in q else m for m, _, q in self.requests)


def _http_of(client: Any) -> httpx.AsyncClient:
    # The AsyncClient exposes no event-hook option yet: reach its httpx client (test-only).
    http = client._transport.http
    assert isinstance(http, httpx.AsyncClient)
    return http


@pytest.fixture
def request_log(monkeypatch: pytest.MonkeyPatch) -> RequestLog:
    """Count requests of every AsyncClient that SaltantHook.get_async_client builds."""
    from saltant_provider.hooks.saltant import SaltantHook

    log = RequestLog()
    original = SaltantHook.get_async_client

    async def counted(self: SaltantHook) -> Any:
        client = await original(self)

        async def on_request(request: httpx.Request) -> None:
            log.record(request)

        async def on_response(response: httpx.Response) -> None:
            log.statuses.append(response.status_code)
            for callback in log.on_response:
                callback(response)

        _http_of(client).event_hooks["request"].append(on_request)
        _http_of(client).event_hooks["response"].append(on_response)
        log.clients.append(client)
        return client

    monkeypatch.setattr(SaltantHook, "get_async_client", counted)
    return log


def client_closed(client: Any) -> bool:
    return bool(_http_of(client).is_closed)


class LagMonitor:
    """Measures how late the event loop wakes a 10 ms sleeper: a blocked loop shows here."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - t0 - 0.01)

    def start(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> float:
        """Stop; return the worst lag seen, in seconds."""
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return max(self.lags, default=0.0)


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait (without blocking the loop) until ``predicate()`` holds, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
