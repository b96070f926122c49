"""Property tests that tests/client/test_parsing_properties.py does not cover.

- Models from realistic server JSON with fields missing, extra or of the wrong type: they parse
  (extra fields never matter; what parses has the declared types) or raise the client's own error.
- Pages of odd shapes served to the real sync and async managers (through an in-memory HTTP
  adapter, so the managers' own paging code runs): paging ends, within the pages the count
  allows, and only the client's own errors come out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saltant_provider.client import AsyncClient, Client, TaskState
from saltant_provider.client.exceptions import SaltantError, UnexpectedResponseError
from saltant_provider.client.models import (
    ContainerTaskType,
    ExecutableTaskInstance,
    ExecutableTaskType,
    Model,
    TaskQueue,
    TaskWhitelist,
    User,
)

API = "http://127.0.0.1:9/api/"
INSTANCE = {
    "uuid": "af77cca4-8a9a-4366-902b-9615a611be71", "user": "admin", "name": "nightly",
    "state": "successful", "datetime_created": "2026-11-29T21:14:59.678829Z",
    "datetime_finished": "2026-11-29T21:14:59Z", "arguments": {"msg": "hello"},
    "task_queue": 1, "task_type": 4,
}
EXEC_TYPE = {
    "id": 4, "user": "admin", "name": "echo", "description": "", "datetime_created":
    "2026-11-29T21:14:59.678829Z", "command_to_run": "echo", "environment_variables": [],
    "required_arguments": ["a"], "required_arguments_default_values": {"a": 1},
    "json_file_option": None,
}
CONTAINER_TYPE = {
    **{k: v for k, v in EXEC_TYPE.items() if k != "json_file_option"},
    "logs_path": "/logs", "results_path": "/results", "container_image": "busybox",
    "container_type": "docker",
}
QUEUE = {
    "id": 1, "user": "admin", "name": "q", "description": "", "private": False,
    "runs_executable_tasks": True, "runs_docker_container_tasks": True,
    "runs_singularity_container_tasks": False, "active": True, "whitelists": [1],
}
WHITELIST = {
    "id": 1, "user": "admin", "name": "w", "description": "",
    "whitelisted_container_task_types": [], "whitelisted_executable_task_types": [4],
}
USER = {"username": "admin", "email": "admin@example.org"}
BASES: list[tuple[type[Model], dict[str, Any]]] = [
    (ExecutableTaskInstance, INSTANCE), (ExecutableTaskType, EXEC_TYPE),
    (ContainerTaskType, CONTAINER_TYPE), (TaskQueue, QUEUE), (TaskWhitelist, WHITELIST),
    (User, USER),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type[Model], dict[str, Any], dict[str, Any], str]:
    """(model, base, mutated body, what was done)."""
    model, base = draw(st.sampled_from(BASES))
    body = dict(base)
    how = draw(st.sampled_from(["extra", "missing", "wrong"]))
    if how == "extra":
        extra = draw(st.dictionaries(st.text(min_size=1, max_size=12), json_values, min_size=1,
                                     max_size=4))
        body.update({k: v for k, v in extra.items() if k not in base})
    elif how == "missing":
        body.pop(draw(st.sampled_from(sorted(base))))
    else:
        body[draw(st.sampled_from(sorted(base)))] = draw(json_values)
    return model, base, body, how


def _check_types(obj: Any) -> None:
    """A parsed model holds what its fields declare (the provider relies on it)."""
    if isinstance(obj, ExecutableTaskInstance):
        assert isinstance(obj.uuid, str) and isinstance(obj.state, TaskState)
        assert isinstance(obj.name, str)
        for name in ("task_queue", "task_type"):
            value = getattr(obj, name)
            assert value is None or (isinstance(value, int) and not isinstance(value, bool))
        for name in ("datetime_created", "datetime_finished"):
            assert getattr(obj, name) is None or isinstance(getattr(obj, name), dt.datetime)
    if hasattr(obj, "id"):
        assert isinstance(obj.id, int) and not isinstance(obj.id, bool)
    if hasattr(obj, "name") and not isinstance(obj, User):
        assert isinstance(obj.name, str)


@settings(max_examples=400, deadline=None)
@given(case=mutated())
def test_models_with_missing_extra_or_wrong_fields_parse_or_raise_the_clients_error(
    case: tuple[type[Model], dict[str, Any], dict[str, Any], str],
) -> None:
    model, base, body, how = case
    try:
        parsed = model.from_json(json.loads(json.dumps(body)))
    except SaltantError as exc:
        assert how != "extra", f"an extra field broke {model.__name__}: {exc}"
        assert isinstance(exc, UnexpectedResponseError)
        return
    _check_types(parsed)
    if how == "extra":
        assert parsed == model.from_json(base)


# --------------------------------------------------------------------------- pages
page_bodies = st.one_of(
    st.fixed_dictionaries({
        "count": st.one_of(st.integers(-2, 40), json_values),
        "next": st.one_of(st.none(), st.just(API + "executabletaskinstances/?page=2"), json_values),
        "previous": st.none(),
        "results": st.lists(
            st.one_of(
                st.builds(lambda u: {**INSTANCE, "uuid": u}, st.uuids().map(str)),
                st.dictionaries(st.sampled_from(sorted(INSTANCE)), json_values, max_size=5),
            ),
            max_size=4,
        ),
    }),
    json_values,
)
pages = st.lists(
    st.tuples(st.sampled_from([200, 200, 200, 404, 500, 403]), page_bodies), min_size=1,
    max_size=5,
)


def _serve(script: list[tuple[int, Any]], url: str) -> tuple[int, bytes]:
    page = int(parse_qs(urlsplit(url).query).get("page", ["1"])[0])
    if page > len(script):
        return 404, b'{"detail": "Invalid page."}'
    status, body = script[page - 1]
    return status, json.dumps(body).encode()


class ScriptedAdapter(requests.adapters.BaseAdapter):
    """Answers each page from a script, in memory; counts the requests."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        super().__init__()
        self.script = script
        self.calls = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.calls += 1
        status, body = _serve(self.script, str(request.url))
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers["Content-Type"] = "application/json"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        return None


def _bound(script: list[tuple[int, Any]], page_size: int) -> int:
    """The most requests a list may make: the first count's worth of pages (at least one)."""
    first = script[0][1]
    count = first.get("count") if isinstance(first, dict) else None
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return max(1, math.ceil(count / page_size))
    return 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=pages, page_size=st.integers(1, 5))
def test_sync_paging_ends_within_the_count_and_raises_only_client_errors(
    script: list[tuple[int, Any]], page_size: int
) -> None:
    client = Client(API, "0" * 40, 5, test_if_authenticated=False, max_tries=1)
    adapter = ScriptedAdapter(script)
    client.session.mount("http://", adapter)
    try:
        items = list(client.executable_task_instances.iter(page_size=page_size))
    except SaltantError:
        items = []
    finally:
        client.close()
    assert adapter.calls <= max(_bound(script, page_size), 1) + 1
    for item in items:
        _check_types(item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=pages, page_size=st.integers(1, 5))
def test_async_paging_ends_within_the_count_and_raises_only_client_errors(
    script: list[tuple[int, Any]], page_size: int
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        status, body = _serve(script, str(request.url))
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    async def run() -> list[Any]:
        client = AsyncClient(API, "0" * 40, 5, max_tries=1)
        await client._transport.http.aclose()
        client._transport.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        try:
            return [i async for i in client.executable_task_instances.iter(page_size=page_size)]
        except SaltantError:
            return []
        finally:
            await client.aclose()

    items = asyncio.run(run())
    assert calls <= max(_bound(script, page_size), 1) + 1
    for item in items:
        _check_types(item)


# --------------------------------------------------------------------------- connections
class _Conn:
    """What the hook reads from an Airflow connection (any values, as a user could type)."""

    def __init__(self, host: Any, port: Any, schema: Any, password: Any, extra: Any) -> None:
        self.conn_id = "saltant_prop"
        self.host = host
        self.port = port
        self.schema = schema
        self.password = password
        self._extra = extra

    @property
    def extra_dejson(self) -> Any:
        if isinstance(self._extra, Exception):
            raise self._extra
        return self._extra


hosts = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from([
        "127.0.0.1", "http://127.0.0.1:8000/api/", "https://saltant.example.org", "ftp://x/",
        "http://[::1]:80/api", "http://[::1", "http://127.0.0.1:99999/", "http://:80/",
        "saltant.example.org/api", " http://127.0.0.1/api/ ", "http://127.0.0.1/api/?q=1#f",
        "HTTP://127.0.0.1/API/", "http://user:pw@127.0.0.1/api/",
    ]),
)
extras = st.one_of(
    st.none(),
    st.just(ValueError("Expecting value")),
    st.dictionaries(
        st.sampled_from(["timeout", "max_tries", "verify_ssl", "ca_bundle", "scheme", "use_https",
                         "extra__saltant__timeout", "other"]),
        st.one_of(json_values, st.sampled_from(["http", "https", "true", "no", "0", "1.5",
                                                "inf", "nan", "-3", "/etc/hostname"])),
        max_size=4,
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    host=hosts,
    port=st.one_of(st.none(), st.integers(-5, 70000)),  # Airflow makes the port an int
    schema=st.one_of(st.none(), st.text(max_size=10)),
    password=st.one_of(st.none(), st.text(max_size=45), st.just("0" * 40)),
    extra=extras,
)
def test_any_connection_gives_settings_and_a_client_or_the_hooks_own_error(
    host: Any, port: Any, schema: Any, password: Any, extra: Any
) -> None:
    from saltant_provider.client.exceptions import InvalidRequestError
    from saltant_provider.hooks.saltant import SaltantHookConfigError, settings_from_connection

    try:
        found = settings_from_connection(_Conn(host, port, schema, password, extra))
    except SaltantHookConfigError as exc:
        assert "saltant_prop" in str(exc)
        return
    assert found.timeout >= 1 and math.isfinite(found.timeout)
    assert found.max_tries >= 1
    try:
        Client(found.base_api_url, found.auth_token, found.timeout, test_if_authenticated=False,
               verify=found.verify, max_tries=found.max_tries).close()
    except InvalidRequestError as exc:  # e.g. whitespace inside the token: a clear message
        assert "auth_token" in str(exc) or "base_api_url" in str(exc), str(exc)


@pytest.mark.parametrize("value", ["inf", "nan", "Infinity", float("inf")])
def test_non_finite_timeout_extra_is_refused(value: Any) -> None:
    # Found as a defect: 'inf' passed the '< 1' check and ended in a bare OverflowError inside
    # requests at the first request; 'nan' in a client error not naming the connection.
    from saltant_provider.hooks.saltant import SaltantHookConfigError, settings_from_connection

    conn = _Conn("http://127.0.0.1:8000/api/", None, None, "0" * 40, {"timeout": value})
    with pytest.raises(SaltantHookConfigError, match="timeout"):
        settings_from_connection(conn)
