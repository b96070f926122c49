"""Property tests: whatever the server sends, the client parses it or raises its own error."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from saltant_provider.client import core
from saltant_provider.client.exceptions import SaltantError
from saltant_provider.client.models import (
    ContainerTaskType,
    ExecutableTaskInstance,
    ExecutableTaskType,
    Model,
    TaskQueue,
    TaskWhitelist,
    User,
)

SPEC = core.RequestSpec("GET", "http://127.0.0.1:1/api/executabletaskinstances/")
MODELS: list[type[Model]] = [
    ExecutableTaskInstance,
    ExecutableTaskType,
    ContainerTaskType,
    TaskQueue,
    TaskWhitelist,
    User,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    "uuid",
    "state",
    "name",
    "user",
    "task_queue",
    "task_type",
    "datetime_created",
    "datetime_finished",
    "arguments",
    "id",
    "description",
    "command_to_run",
    "environment_variables",
    "required_arguments",
    "required_arguments_default_values",
    "json_file_option",
    "private",
    "active",
    "whitelists",
    "username",
    "email",
    "container_image",
    "logs_path",
    "count",
    "next",
    "results",
    "detail",
    "non_field_errors",
]
field_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "created",
            "running",
            "successful",
            "2026-11-29T21:14:59.678829Z",
            "2026-13-99T99:99:99Z",
            "af77cca4-8a9a-4366-902b-9615a611be71",
        ]
    ),
)
objectish = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=12)
bodies = st.one_of(
    json_values,
    objectish,
    st.lists(objectish, max_size=3),
    st.fixed_dictionaries(
        {"count": json_values, "next": json_values, "results": st.lists(objectish, max_size=3)}
    ),
)


def _check(status: int, body: bytes, headers: dict[str, str]) -> None:
    try:
        data = core.handle_response(SPEC, status, headers, body)
    except SaltantError:
        return
    for model in MODELS:
        with contextlib.suppress(SaltantError):
            model.from_json(data)
    try:
        _, _, raw = core.parse_page_envelope(SPEC, data)
    except SaltantError:
        return
    for item in raw:
        with contextlib.suppress(SaltantError):
            ExecutableTaskInstance.from_json(item)


@settings(max_examples=300, deadline=None)
@given(status=st.integers(100, 599), body=bodies)
def test_any_json_body_parses_or_raises_a_client_error(status: int, body: Any) -> None:
    _check(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


@settings(max_examples=200, deadline=None)
@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=300),
    retry_after=st.none() | st.text(max_size=40),
)
def test_any_bytes_parse_or_raise_a_client_error(
    status: int, body: bytes, retry_after: str | None
) -> None:
    headers = {"Content-Type": "text/html"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    _check(status, body, headers)


@settings(max_examples=200, deadline=None)
@given(body=objectish, status=st.integers(400, 599))
def test_error_messages_are_short_strings(body: dict[str, Any], status: int) -> None:
    err = core.error_for(SPEC, status, {}, json.dumps(body).encode())
    assert isinstance(err.message, str) and len(err.message) <= 1100
