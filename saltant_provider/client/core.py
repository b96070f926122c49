"""The I/O-free heart of the client, shared by the sync (requests) and async (httpx) transports.

Everything here is a pure function of its inputs: URL joining and checking, the auth header,
request specs, reading a response into data or an error, and the retry policy (one predicate,
one backoff computation). Checks of user input live in ``checks``. The transports only move
bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import math
import random
import re
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from saltant_provider.client import checks
from saltant_provider.client.exceptions import (
    AuthenticationError,
    BadHttpRequestError,
    InvalidRequestError,
    NotFoundError,
    SaltantConnectionError,
    UnexpectedResponseError,
)

DEFAULT_TIMEOUT_SECONDS: float = 90
DEFAULT_REFRESH_PERIOD: float = 5
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_TRIES = 5

# Where each resource lives under the API root.
PATHS: dict[str, str] = {
    "executable_task_instances": "executabletaskinstances/",
    "container_task_instances": "containertaskinstances/",
    "executable_task_types": "executabletasktypes/",
    "container_task_types": "containertasktypes/",
    "task_queues": "taskqueues/",
    "task_whitelists": "taskwhitelists/",
    "users": "users/",
}


# --------------------------------------------------------------------------- URL and token
def normalise_api_url(url: object) -> str:
    """Return the API root as ``http(s)://host[:port]/.../`` with exactly one trailing slash."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError(
            "base_api_url must be a non-empty string such as 'https://saltant.example.org/api/'"
        )
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(
            f"base_api_url {url!r} is not an http(s) URL; give the API root, "
            "e.g. 'https://saltant.example.org/api/'"
        )
    if parts.query or parts.fragment:
        raise InvalidRequestError(
            f"base_api_url {url!r} must not have a query string or fragment; give the API root"
        )
    return url.rstrip("/") + "/"


def server_root_url(api_url: str) -> str:
    """The browser front end's root: the API root without its final ``api/``."""
    if api_url.endswith("/api/"):
        return api_url[: -len("api/")]
    return api_url


def check_token(token: object) -> str:
    """Refuse a missing or blank token before any request; never echo the token back."""
    if not isinstance(token, str) or not token.strip():
        raise InvalidRequestError(
            "auth_token is empty; pass the saltant user's API token "
            "(or set SALTANT_AUTH_TOKEN and use Client.from_env())"
        )
    if any(c.isspace() for c in token.strip()):
        raise InvalidRequestError("auth_token contains whitespace; pass the bare token key")
    return token.strip()


def auth_headers(token: str) -> dict[str, str]:
    """Headers every request carries. Never logged."""
    return {"Authorization": f"Token {token}", "Accept": "application/json"}


# --------------------------------------------------------------------------- request specs
@dataclasses.dataclass(frozen=True)
class RequestSpec:
    """One HTTP request, described without sending it. Holds no credentials."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    #: Safe to send twice (GET, PUT, PATCH, terminate). A create or clone is not.
    idempotent: bool = True

    def describe(self) -> str:
        return f"{self.method} {self.url}"


def join(api_url: str, *parts: object) -> str:
    """API root + path segments, each followed by ``/`` as saltant's routes expect."""
    url = api_url
    for part in parts:
        text = str(part).strip("/")
        if text:
            url += "/".join(quote(seg, safe="@+:~") for seg in text.split("/")) + "/"
    return url


def get_spec(api_url: str, path: str, key: object = None) -> RequestSpec:
    return RequestSpec("GET", join(api_url, path, "" if key is None else key))


def list_spec(
    api_url: str, path: str, params: Mapping[str, str], page: int, page_size: int
) -> RequestSpec:
    query = (*params.items(), ("page", str(page)), ("page_size", str(page_size)))
    return RequestSpec("GET", join(api_url, path), params=tuple(query))


def write_spec(
    api_url: str, path: str, method: str, body: Mapping[str, Any], key: object = None
) -> RequestSpec:
    """POST (create, not idempotent), PUT or PATCH (idempotent) with a JSON body."""
    checks.check_json(dict(body), "request body")
    url = join(api_url, path, "" if key is None else key)
    return RequestSpec(method, url, json=dict(body), idempotent=method != "POST")


def action_spec(api_url: str, path: str, uuid: str, action: str) -> RequestSpec:
    """POST to an instance action. Terminate may be repeated; clone creates, so it may not."""
    return RequestSpec("POST", join(api_url, path, uuid, action), idempotent=action == "terminate")


# --------------------------------------------------------------------------- responses
_MAX_MESSAGE = 1000
_LIST_REPR = re.compile(r"""^\[(['"])(.*)\1\]$""", re.DOTALL)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(rb"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def _clip(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clean_message(value: object) -> str:
    """saltant wraps some messages in a Python list repr (``"['Queue x ...']"``): unwrap them."""
    text = str(value)
    match = _LIST_REPR.match(text.strip())
    return match.group(2) if match else text


def render_error_data(data: object, prefix: str = "") -> str:
    """DRF error bodies as one readable line: ``task_queue: Invalid pk "2" - ...``."""
    if isinstance(data, Mapping):
        if not prefix and set(data) == {"detail"}:
            return _clean_message(data["detail"])
        parts = []
        for key, value in data.items():
            label = "" if key in ("non_field_errors", "detail") else f"{prefix}{key}"
            text = render_error_data(value, f"{label}." if label else "")
            parts.append(f"{label}: {text}" if label and not isinstance(value, Mapping) else text)
        return "; ".join(p for p in parts if p)
    if isinstance(data, list):
        return " ".join(render_error_data(item, prefix) for item in data)
    if data is None:
        return ""
    return _clean_message(data)


def summarise_body(body: bytes, content_type: str = "") -> str:
    """A short description of a non-JSON body: HTML pages by their title, text clipped."""
    if not body.strip():
        return "empty response body"
    head = body[:65536]
    if "html" in content_type.lower() or head.lstrip()[:1] == b"<":
        title = _TITLE.search(head) or _H1.search(head)
        label = title.group(1).decode("utf-8", "replace") if title else ""
        label = _clip(_TAGS.sub("", label), 200)
        return f"HTML error page ({len(body)} bytes)" + (f": {label}" if label else "")
    return _clip(body[:2000].decode("utf-8", "replace"), 300)


def decode_json(body: bytes) -> tuple[bool, Any]:
    """(True, data) if the body is JSON, else (False, None)."""
    try:
        return True, json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,10}", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


_HINTS = {
    405: "the server refused this method here",
    429: "the server is rate limiting; slow down",
}


def error_for(
    spec: RequestSpec, status: int, headers: Mapping[str, str], body: bytes, url: str | None = None
) -> BadHttpRequestError:
    """The client error for a non-2xx answer, with the server's message made readable."""
    content_type = _header(headers, "content-type")
    is_json, data = decode_json(body)
    if is_json and data not in (None, "", [], {}):
        message = _clip(render_error_data(data)) or _clip(json.dumps(data))
    else:
        message = summarise_body(body, content_type)
        data = None
        if status == 405 and spec.method == "POST" and not body.strip():
            message += (
                " (saltant answers a POST that failed inside the server, e.g. clone or terminate"
                " of an unknown uuid, with an empty 405)"
            )
    if status in _HINTS:
        message += f" ({_HINTS[status]})"
    location = _header(headers, "location")
    if 300 <= status < 400:
        # Not followed: a redirected POST turns into a GET, and a create into a list.
        message = (
            f"the server redirects to {_clip(location, 200) or 'another URL'}; "
            "set base_api_url to the final API root (often the https:// one)"
        )
    cls: type[BadHttpRequestError] = BadHttpRequestError
    if status in (401, 403):
        cls = AuthenticationError
        if "token" in message.lower() or "credentials" in message.lower():
            message += " (check the saltant auth token)"
    elif status == 404:
        cls = NotFoundError
    return cls(
        message,
        status_code=status,
        url=url or spec.url,
        method=spec.method,
        body=data,
        retry_after=parse_retry_after(_header(headers, "retry-after") or None),
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def handle_response(
    spec: RequestSpec, status: int, headers: Mapping[str, str], body: bytes, url: str | None = None
) -> Any:
    """Return the JSON data of a 2xx answer; raise the matching client error otherwise."""
    if not 200 <= status < 300:
        raise error_for(spec, status, headers, body, url)
    ok, data = decode_json(body)
    if not ok:
        raise UnexpectedResponseError(
            "expected a JSON body, got " + summarise_body(body, _header(headers, "content-type")),
            status_code=status,
            url=url or spec.url,
            method=spec.method,
        )
    return data


# --------------------------------------------------------------------------- retry policy
def is_retryable(exc: BaseException) -> bool:
    """The one retryable-error predicate: no answer, 429, or any 5xx.

    Whether a request may be re-sent also depends on the request (see :func:`may_retry`).
    """
    if isinstance(exc, SaltantConnectionError):
        return not exc.permanent
    if isinstance(exc, BadHttpRequestError):
        status = exc.status_code
        return status is not None and (status == 429 or 500 <= status <= 599)
    return False


def may_retry(spec: RequestSpec, exc: BaseException) -> bool:
    """Idempotent requests retry on any retryable error; a create only if it was never sent."""
    if not is_retryable(exc):
        return False
    if spec.idempotent:
        return True
    return isinstance(exc, SaltantConnectionError) and not exc.request_sent


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how long to wait in between."""

    max_tries: int = DEFAULT_MAX_TRIES
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: A longer ``Retry-After`` than this is capped to it (a server asking for an hour would
    #: otherwise stall a task that has its own timeout).
    retry_after_max: float = 120.0

    def __post_init__(self) -> None:
        if isinstance(self.max_tries, bool) or not isinstance(self.max_tries, int):
            raise InvalidRequestError(f"max_tries must be an integer >= 1, got {self.max_tries!r}")
        if self.max_tries < 1:
            raise InvalidRequestError(f"max_tries must be >= 1, got {self.max_tries}")
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
                raise InvalidRequestError(f"{name} must be seconds >= 0, got {value!r}")

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to sleep after failed try number ``attempt`` (1-based).

        Exponential (base * 2**(attempt-1), capped) with "equal jitter": half fixed, half random,
        so clients that failed together do not retry together. A server's ``Retry-After`` is a
        floor (capped at ``retry_after_max``).
        """
        exp = min(self.backoff_max, self.backoff_base * (2 ** min(attempt - 1, 30)))
        delay = exp / 2 + rand() * exp / 2
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.retry_after_max))
        return delay


# --------------------------------------------------------------------------- pages
@dataclasses.dataclass
class Page:
    """One page of a list: the total ``count``, the ``next`` page's URL (or None), the models."""

    count: int
    next: str | None
    results: list[Any]
    previous: str | None = None


def parse_page_envelope(spec: RequestSpec, data: object) -> tuple[int, str | None, list[Any]]:
    """Check a paginated body's shape; return (count, next, raw results)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
        raise UnexpectedResponseError(
            f"expected a page {{count, next, results}}, got {_clip(repr(data), 200)}",
            url=spec.url,
            method=spec.method,
        )
    count = data.get("count")
    nxt = data.get("next")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UnexpectedResponseError(
            f"page has no valid 'count': {count!r}", url=spec.url, method=spec.method
        )
    if nxt is not None and not isinstance(nxt, str):
        raise UnexpectedResponseError(
            f"page 'next' is not a URL: {nxt!r}", url=spec.url, method=spec.method
        )
    return count, nxt, list(data["results"])


def has_next_page(page: int, page_size: int, count: int, nxt: str | None, got: int) -> bool:
    """Whether to ask for page ``page + 1``: the server says so and the count agrees."""
    return nxt is not None and got > 0 and page * page_size < count


def connection_error(
    spec: RequestSpec, exc: BaseException, *, never_sent: bool, tls_failure: bool
) -> SaltantConnectionError:
    """The client error for a request that got no HTTP answer. Never includes headers."""
    message = f"{type(exc).__name__}: {_clip(str(exc), 500)}"
    if tls_failure:
        message += (
            " (TLS certificate verification failed: for a private CA pass verify='/path/ca.pem';"
            " verify=False turns checking off)"
        )
    return SaltantConnectionError(
        message,
        url=spec.url,
        method=spec.method,
        request_sent=not never_sent,
        permanent=tls_failure,
    )


def is_tls_verification_failure(exc: BaseException) -> bool:
    """True if ``exc`` (or what caused it) is a certificate verification failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def explain_auth_check(exc: BadHttpRequestError, api_url: str) -> BadHttpRequestError:
    """Reword a failed ``test_authentication()`` so the likely cause is named."""
    if isinstance(exc, AuthenticationError):
        message = f"Authentication invalid: {exc.message}"
    elif isinstance(exc, NotFoundError):
        message = f"{exc.message} (is {api_url!r} the saltant API root? It usually ends in /api/)"
    else:
        return exc
    return type(exc)(
        message,
        status_code=exc.status_code,
        url=exc.url,
        method=exc.method,
        body=exc.body,
        retry_after=exc.retry_after,
    )


def wait_timeout_message(kind: str, uuid: str, timeout: float, last_state: object) -> str:
    return (
        f"{kind} {uuid} did not finish within {timeout:g} s (last state: {last_state}); "
        "it was left running on the server. Wait longer, or terminate it yourself."
    )
