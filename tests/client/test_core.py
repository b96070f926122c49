"""Pure unit tests of client/core.py: no server, no I/O."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from saltant_provider.client import checks, core
from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadHttpRequestError,
    InvalidRequestError,
    NotFoundError,
    SaltantConnectionError,
    UnexpectedResponseError,
    WaitTimeoutError,
)

API = "http://127.0.0.1:8000/api/"
GET = core.RequestSpec("GET", API + "users/")
POST = core.RequestSpec("POST", API + "executabletaskinstances/", idempotent=False)


@pytest.mark.parametrize(
    "given",
    ["http://127.0.0.1:8000/api", "http://127.0.0.1:8000/api/", " http://127.0.0.1:8000/api// "],
)
def test_api_url_is_normalised_with_one_trailing_slash(given: str) -> None:
    assert core.normalise_api_url(given) == API


@pytest.mark.parametrize("bad", ["", "ftp://host/api/", "127.0.0.1:8000/api", "http://", None, 3])
def test_api_url_that_is_not_http_is_refused_with_a_hint(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="base_api_url"):
        core.normalise_api_url(bad)


def test_server_root_drops_api() -> None:
    assert core.server_root_url(API) == "http://127.0.0.1:8000/"
    assert core.server_root_url("https://h/saltant/api/") == "https://h/saltant/"


@pytest.mark.parametrize("bad", ["", "   ", None, "two words"])
def test_bad_token_is_refused_without_echoing_it(bad: object) -> None:
    with pytest.raises(InvalidRequestError) as info:
        core.check_token(bad)
    if isinstance(bad, str) and bad.strip():
        assert bad not in str(info.value)


def test_auth_header_uses_token_scheme() -> None:
    assert core.auth_headers("abc")["Authorization"] == "Token abc"


def test_uuid_is_canonicalised_and_junk_refused() -> None:
    u = "AF77CCA4-8A9A-4366-902B-9615A611BE71"
    assert checks.check_uuid(u) == u.lower()
    for bad in ["nope", "", None, 12, "af77cca4-8a9a-4366-902b"]:
        with pytest.raises(InvalidRequestError, match="uuid"):
            checks.check_uuid(bad)


def test_get_needs_exactly_one_of_id_and_name() -> None:
    with pytest.raises(InvalidRequestError, match="both"):
        checks.check_get_key(1, "x")
    with pytest.raises(InvalidRequestError, match="neither"):
        checks.check_get_key(None, None)
    assert checks.check_get_key("3", None) == ("id", 3)
    assert checks.check_get_key(None, "q") == ("name", "q")
    with pytest.raises(InvalidRequestError, match="positive integer"):
        checks.check_get_key(True, None)


def test_arguments_must_be_a_json_serialisable_dict() -> None:
    assert checks.check_json({"a": [1, 2]}, "arguments") == {"a": [1, 2]}
    with pytest.raises(InvalidRequestError, match="must be a dict"):
        checks.check_json([1, 2], "arguments")
    with pytest.raises(InvalidRequestError, match="JSON-serialisable"):
        checks.check_json({"a": object()}, "arguments")
    with pytest.raises(InvalidRequestError, match="JSON-serialisable"):
        checks.check_json({"a": float("nan")}, "arguments")


def test_filters_become_query_parameters() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    params = checks.check_filters(
        "executable_task_instances",
        {
            "state__in": ["failed", "successful"],
            "task_queue": 3,
            "datetime_created__gte": when,
        },
    )
    assert params == {
        "state__in": "failed,successful",
        "task_queue": "3",
        "datetime_created__gte": "2026-01-02T03:04:05+00:00",
    }
    assert checks.check_filters("task_queues", {"active": False}) == {"active": "false"}


def test_filter_the_server_would_ignore_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="uuid__in") as info:
        checks.check_filters("executable_task_instances", {"uuid__in": ["a"]})
    assert "ignore" in str(info.value) and "task_queue" in str(info.value)
    with pytest.raises(InvalidRequestError, match="must be a dict"):
        checks.check_filters("users", [("username", "x")])
    empties: list[object] = ["", None, []]
    for empty in empties:
        with pytest.raises(InvalidRequestError, match="empty"):
            checks.check_filters("executable_task_instances", {"name": empty})
    with pytest.raises(InvalidRequestError, match="type object"):
        checks.check_filters("users", {"username": object()})


def test_url_joining() -> None:
    assert core.join(API, "taskqueues/", 3) == API + "taskqueues/3/"
    assert core.join(API, "users/", "a b?#") == API + "users/a%20b%3F%23/"
    assert core.join(API, "users/", "me+x@y.org") == API + "users/me+x@y.org/"
    spec = core.action_spec(API, "executabletaskinstances/", "u", "clone")
    assert spec.url == API + "executabletaskinstances/u/clone/" and not spec.idempotent
    assert core.action_spec(API, "executabletaskinstances/", "u", "terminate").idempotent
    assert not core.write_spec(API, "taskqueues/", "POST", {}).idempotent
    assert core.write_spec(API, "taskqueues/", "PATCH", {}, 1).idempotent


def test_success_body_is_returned() -> None:
    assert core.handle_response(GET, 200, {}, b'{"a": 1}') == {"a": 1}


def test_success_without_json_is_an_unexpected_response() -> None:
    with pytest.raises(UnexpectedResponseError, match="expected a JSON body"):
        core.handle_response(GET, 200, {"Content-Type": "text/html"}, b"<html>hi</html>")


def test_403_is_authentication_error_with_hint() -> None:
    with pytest.raises(AuthenticationError) as info:
        core.handle_response(GET, 403, {}, b'{"detail": "Invalid token."}')
    assert info.value.status_code == 403
    assert "Invalid token." in str(info.value) and "check the saltant auth token" in str(info.value)
    assert API + "users/" in str(info.value)


def test_404_is_not_found() -> None:
    with pytest.raises(NotFoundError) as info:
        core.handle_response(GET, 404, {}, b'{"detail": "Not found."}')
    assert isinstance(info.value, BadHttpRequestError)
    assert info.value.message == "Not found."


def test_400_field_errors_are_readable() -> None:
    body = json.dumps({"task_queue": ['Invalid pk "2" - object does not exist.']}).encode()
    with pytest.raises(BadHttpRequestError) as info:
        core.handle_response(POST, 400, {}, body)
    assert info.value.message == 'task_queue: Invalid pk "2" - object does not exist.'
    assert info.value.body == {"task_queue": ['Invalid pk "2" - object does not exist.']}


def test_400_non_field_python_list_repr_is_unwrapped() -> None:
    body = b'{"non_field_errors": ["[\\"required argument \'a\' not provided!\\"]"]}'
    err = core.error_for(POST, 400, {}, body)
    assert err.message == "required argument 'a' not provided!"
    body = b'{"non_field_errors": ["[\'Queue nowl has not whitelisted task type echo-hello\']"]}'
    assert core.error_for(POST, 400, {}, body).message == (
        "Queue nowl has not whitelisted task type echo-hello"
    )


def test_empty_405_on_post_is_explained() -> None:
    err = core.error_for(POST, 405, {}, b"")
    assert err.status_code == 405
    assert "empty response body" in err.message and "unknown uuid" in err.message


def test_html_error_page_is_summarised_not_dumped() -> None:
    page = b"<html><head><title>Server Error (500)</title></head><body>" + b"x" * 50_000
    err = core.error_for(GET, 500, {"Content-Type": "text/html"}, page + b"</body></html>")
    assert "HTML error page" in err.message and "Server Error (500)" in err.message
    assert len(str(err)) < 500


def test_retry_after_header_is_read() -> None:
    err = core.error_for(GET, 429, {"Retry-After": "7"}, b"")
    assert err.retry_after == 7.0
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert core.parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert core.parse_retry_after("soon") is None
    assert core.parse_retry_after(None) is None


def test_retryable_predicate() -> None:
    assert core.is_retryable(SaltantConnectionError("x"))
    assert core.is_retryable(BadHttpRequestError("x", status_code=429))
    assert core.is_retryable(BadHttpRequestError("x", status_code=503))
    assert not core.is_retryable(BadHttpRequestError("x", status_code=400))
    assert not core.is_retryable(AuthenticationError("x", status_code=403))
    assert not core.is_retryable(NotFoundError("x", status_code=404))
    assert not core.is_retryable(WaitTimeoutError("x", uuid="u", last_state="running"))
    assert not core.is_retryable(ValueError())


def test_create_is_retried_only_when_never_sent() -> None:
    assert core.may_retry(GET, BadHttpRequestError("x", status_code=502))
    assert not core.may_retry(POST, BadHttpRequestError("x", status_code=502))
    assert not core.may_retry(POST, SaltantConnectionError("reset", request_sent=True))
    assert core.may_retry(POST, SaltantConnectionError("refused", request_sent=False))


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    policy = core.RetryPolicy(max_tries=10, backoff_base=1.0, backoff_max=8.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in range(1, 6)] == [1, 2, 4, 8, 8]
    assert [policy.delay(n, rand=lambda: 0.0) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert policy.delay(1, retry_after=5, rand=lambda: 0.0) == 5
    assert policy.delay(1, retry_after=10_000, rand=lambda: 0.0) == policy.retry_after_max
    with pytest.raises(InvalidRequestError):
        core.RetryPolicy(max_tries=0)


def test_page_envelope() -> None:
    count, nxt, raw = core.parse_page_envelope(GET, {"count": 0, "next": None, "results": []})
    assert (count, nxt, raw) == (0, None, [])
    with pytest.raises(UnexpectedResponseError):
        core.parse_page_envelope(GET, [])
    with pytest.raises(UnexpectedResponseError):
        core.parse_page_envelope(GET, {"count": "3", "next": None, "results": []})
    assert core.has_next_page(1, 2, 3, "x", 2) and not core.has_next_page(2, 2, 3, "x", 1)
    assert not core.has_next_page(1, 2, 3, None, 2)


def test_timing_checks() -> None:
    assert checks.check_timing(0.1, None) == (0.1, None)
    for args in [(-1, None), (0.1, -1), ("5", None), (0.1, float("nan"))]:
        with pytest.raises(InvalidRequestError):
            checks.check_timing(*args)


def test_nested_and_multiple_field_errors() -> None:
    body = {"name": [" @/+/-/_ only"], "whitelists": {"0": ['Invalid pk "9"']}}
    message = core.error_for(POST, 400, {}, json.dumps(body).encode()).message
    assert message == 'name: @/+/-/_ only; whitelists.0: Invalid pk "9"'
    assert core.error_for(POST, 400, {}, b'{"detail": "JSON parse error - x"}').message == (
        "JSON parse error - x"
    )


def test_redirect_is_explained_not_followed() -> None:
    err = core.error_for(POST, 301, {"Location": "https://h/api/x/"}, b"")
    assert "redirects to https://h/api/x/" in err.message and "base_api_url" in err.message

