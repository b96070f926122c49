"""The sync client: one pooled ``requests.Session`` carrying out ``core`` request specs."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import requests
import requests.auth
import urllib3.exceptions

from saltant_provider.client import checks, core
from saltant_provider.client.exceptions import (
    BadEnvironmentError,
    BadHttpRequestError,
)
from saltant_provider.client.managers import (
    ContainerTaskInstanceManager,
    ContainerTaskTypeManager,
    ExecutableTaskInstanceManager,
    ExecutableTaskTypeManager,
    TaskQueueManager,
    TaskWhitelistManager,
    UserManager,
)

log = logging.getLogger("saltant_provider.client")

Verify = bool | str


def check_verify(verify: object) -> bool | str:
    """True/False, or a path to a CA bundle that exists."""
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, (str, os.PathLike)) and os.path.exists(verify):
        return os.fspath(verify)  # type: ignore[return-value]
    raise core.InvalidRequestError(
        f"verify must be True, False or the path of an existing CA bundle file, got {verify!r}"
    )


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never made, so the server cannot have seen the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return False
    reason = getattr(exc.args[0], "reason", exc.args[0])
    return isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


class _TokenAuth(requests.auth.AuthBase):
    """Adds saltant's token header to each request. Set as the session's auth so requests never
    swaps in ~/.netrc credentials; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._headers = core.auth_headers(token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._headers)
        return request

    def __repr__(self) -> str:
        return "_TokenAuth(<hidden>)"


class SyncTransport:
    """Sends a :class:`core.RequestSpec` with timeout and retries; returns the JSON data."""

    def __init__(
        self,
        token: str,
        timeout: float,
        verify: bool | str,
        policy: core.RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.auth = _TokenAuth(token)
        self.session.verify = verify
        # Passed on every request too: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
        # environment override a session-level CA bundle, which would ignore the user's choice.
        self.verify = verify
        self.timeout = timeout
        self.policy = policy
        self.sleep = sleep

    def send(self, spec: core.RequestSpec) -> Any:
        for attempt in range(1, self.policy.max_tries + 1):
            try:
                return self._send_once(spec, attempt)
            except BadHttpRequestError as exc:
                if attempt >= self.policy.max_tries or not core.may_retry(spec, exc):
                    raise
                delay = self.policy.delay(attempt, exc.retry_after)
                log.debug("retrying %s in %.2fs after: %s", spec.describe(), delay, exc)
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, spec: core.RequestSpec, attempt: int) -> Any:
        start = time.monotonic()
        try:
            response = self.session.request(
                spec.method,
                spec.url,
                params=list(spec.params) or None,
                json=spec.json,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            elapsed = time.monotonic() - start
            log.debug(
                "%s -> no answer after %.3fs (try %d): %s",
                spec.describe(),
                elapsed,
                attempt,
                type(exc).__name__,
            )
            raise core.connection_error(
                spec,
                exc,
                never_sent=_never_sent(exc),
                tls_failure=core.is_tls_verification_failure(exc),
            ) from None
        elapsed = time.monotonic() - start
        log.debug(
            "%s %s -> %d in %.3fs (try %d)",
            spec.method,
            response.url,
            response.status_code,
            elapsed,
            attempt,
        )
        return core.handle_response(
            spec, response.status_code, response.headers, response.content, response.url
        )

    def close(self) -> None:
        self.session.close()


class Client:
    """API client for a saltant server; a drop-in replacement for ``saltant.client.Client``.

    Beyond saltant-py: a timeout on every request, retries with backoff for idempotent requests,
    TLS verification (``verify``), lazy pagination (``manager.iter()``), waits with timeouts.
    """

    def __init__(
        self,
        base_api_url: str,
        auth_token: str,
        default_timeout: float = core.DEFAULT_TIMEOUT_SECONDS,
        test_if_authenticated: bool = True,
        *,
        verify: bool | str = True,
        max_tries: int = core.DEFAULT_MAX_TRIES,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 120.0,
    ) -> None:
        self.base_api_url = core.normalise_api_url(base_api_url)
        token = core.check_token(auth_token)
        self.default_timeout = checks.check_request_timeout(default_timeout)
        self.retry_policy = core.RetryPolicy(max_tries, backoff_base, backoff_max, retry_after_max)
        self._transport = SyncTransport(
            token, self.default_timeout, check_verify(verify), self.retry_policy
        )
        self.session = self._transport.session
        self._clock: Callable[[], float] = time.monotonic
        self._sleep: Callable[[float], None] = time.sleep

        self.container_task_instances = ContainerTaskInstanceManager(self)
        self.container_task_types = ContainerTaskTypeManager(self)
        self.executable_task_instances = ExecutableTaskInstanceManager(self)
        self.executable_task_types = ExecutableTaskTypeManager(self)
        self.task_queues = TaskQueueManager(self)
        self.task_whitelists = TaskWhitelistManager(self)
        self.users = UserManager(self)

        if test_if_authenticated:
            try:
                self.test_authentication()
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        return f"Client(base_api_url={self.base_api_url!r})"

    def _send(self, spec: core.RequestSpec) -> Any:
        return self._transport.send(spec)

    def test_authentication(self) -> None:
        """Check the token with a cheap authenticated read (``GET users/``).

        Raises AuthenticationError if the server refuses the token; other failures (server down,
        404 at this URL) raise their own BadHttpRequestError so the cause is visible.
        """
        spec = core.list_spec(self.base_api_url, core.PATHS["users"], {}, 1, 1)
        try:
            self._send(spec)
        except BadHttpRequestError as exc:
            raise core.explain_auth_check(exc, self.base_api_url) from None

    @classmethod
    def from_env(
        cls, default_timeout: float = core.DEFAULT_TIMEOUT_SECONDS, **kwargs: Any
    ) -> Client:
        """A client configured from SALTANT_API_URL and SALTANT_AUTH_TOKEN."""
        values = {}
        for name in ("SALTANT_API_URL", "SALTANT_AUTH_TOKEN"):
            value = os.environ.get(name, "")
            if not value.strip():
                raise BadEnvironmentError(
                    f"{name} not defined: set it to the saltant "
                    + (
                        "API root, e.g. https://saltant.example.org/api/"
                        if name.endswith("URL")
                        else "user's API token"
                    )
                )
            values[name] = value
        return cls(
            base_api_url=values["SALTANT_API_URL"],
            auth_token=values["SALTANT_AUTH_TOKEN"],
            default_timeout=default_timeout,
            **kwargs,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


from_env = Client.from_env
