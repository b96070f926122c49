"""Helpers for the local server's own tests: plain ``requests``, never our client."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from saltant_provider.testing import LocalSaltantServer

TERMINAL = {"successful", "failed", "terminated"}


class Api:
    """A thin ``requests`` wrapper bound to one server and one token."""

    def __init__(self, base: str, token: str | None, verify: Any = True) -> None:
        self.base = base
        self.session = requests.Session()
        self.verify = verify
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def url(self, path: str) -> str:
        return self.base + path.lstrip("/")

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 10)
        kw.setdefault("verify", self.verify)  # explicit: REQUESTS_CA_BUNDLE beats session.verify
        return self.session.request(method, self.url(path), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def ok(self, method: str, path: str, status: int, **kw: Any) -> Any:
        resp = self.request(method, path, **kw)
        assert resp.status_code == status, (resp.status_code, resp.text)
        return resp.json()

    # -- object factories -------------------------------------------------------------
    def exec_type(self, command: str = "true", **fields: Any) -> dict[str, Any]:
        body = {"name": f"t-{uuid.uuid4().hex[:10]}", "command_to_run": command, **fields}
        return self.ok("POST", "executabletasktypes/", 201, json=body)  # type: ignore[no-any-return]

    def queue_for(self, *type_ids: int, **fields: Any) -> dict[str, Any]:
        wl = self.ok("POST", "taskwhitelists/", 201, json={
            "name": f"wl-{uuid.uuid4().hex[:8]}",
            "whitelisted_executable_task_types": list(type_ids),
        })
        body = {"name": f"q-{uuid.uuid4().hex[:10]}", "whitelists": [wl["id"]], **fields}
        return self.ok("POST", "taskqueues/", 201, json=body)  # type: ignore[no-any-return]

    def run(self, type_id: int, queue_id: int, **fields: Any) -> dict[str, Any]:
        body = {"task_type": type_id, "task_queue": queue_id, **fields}
        return self.ok("POST", "executabletaskinstances/", 201, json=body)  # type: ignore[no-any-return]

    def wait(self, uuid_: str, states: set[str] = TERMINAL, timeout: float = 20) -> dict[str, Any]:
        """Poll an instance until its state is in ``states``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            inst = self.ok("GET", f"executabletaskinstances/{uuid_}/", 200)
            if inst["state"] in states:
                return inst  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                pytest.fail(f"instance still {inst['state']} after {timeout}s")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def api(saltant_server: LocalSaltantServer) -> Api:
    return Api(saltant_server.url, saltant_server.token)


@pytest.fixture(scope="session")
def alice(saltant_server: LocalSaltantServer) -> Api:
    return Api(saltant_server.url, saltant_server.users["alice"])


@pytest.fixture(scope="session")
def anon(saltant_server: LocalSaltantServer) -> Api:
    return Api(saltant_server.url, None)
