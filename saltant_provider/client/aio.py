"""The async client (httpx) for code that must not block: triggers and their polling.

It covers the calls waiting needs, on both instance managers: get, list_page, iter, list,
terminate, wait_until_finished, front_end_url. Request building, response reading, errors and
the retry policy are the same ``core`` functions the sync client uses; only I/O differs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any, Generic, TypeVar

import httpx

from saltant_provider.client import checks, core
from saltant_provider.client.exceptions import (
    BadHttpRequestError,
    NotFoundError,
    WaitTimeoutError,
)
from saltant_provider.client.models import (
    BaseTaskInstance,
    ContainerTaskInstance,
    ExecutableTaskInstance,
)

log = logging.getLogger("saltant_provider.client")

I = TypeVar("I", bound=BaseTaskInstance)  # noqa: E741


def _ssl_verify(verify: object) -> ssl.SSLContext:
    """The TLS context for ``verify`` (True, False or a CA-bundle path), built once per setting.

    Building one costs ~15 ms of blocked event loop (it loads the CA bundle); a triggerer that
    starts hundreds of clients shares one context per setting instead.
    """
    if isinstance(verify, bool):
        return _shared_ssl_context(verify, None, None)
    if isinstance(verify, (str, os.PathLike)) and os.path.exists(verify):
        path = os.path.abspath(os.fspath(verify))
        return _shared_ssl_context(True, path, os.stat(path).st_mtime_ns)
    raise core.InvalidRequestError(
        f"verify must be True, False or the path of an existing CA bundle file, got {verify!r}"
    )


@functools.lru_cache(maxsize=16)
def _shared_ssl_context(verify: bool, cafile: str | None, mtime_ns: int | None) -> ssl.SSLContext:
    """One context per (verify, CA file and its version); ``mtime_ns`` renews it on change."""
    if cafile is not None:
        return ssl.create_default_context(cafile=cafile)
    return httpx.create_ssl_context(verify=verify)


class _TokenAuth(httpx.Auth):
    """Adds saltant's token header; an explicit auth keeps httpx from using ~/.netrc."""

    def __init__(self, token: str) -> None:
        self._headers = core.auth_headers(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers)
        yield request

    def __repr__(self) -> str:
        return "_TokenAuth(<hidden>)"


class AsyncTransport:
    """Sends a :class:`core.RequestSpec` with timeout and retries, without blocking the loop."""

    def __init__(
        self, token: str, timeout: float, verify: ssl.SSLContext, policy: core.RetryPolicy
    ) -> None:
        self.http = httpx.AsyncClient(
            auth=_TokenAuth(token),
            headers={"Accept": "application/json"},
            timeout=timeout,
            verify=verify,
            follow_redirects=False,
        )
        self.policy = policy
        self.sleep = asyncio.sleep

    async def send(self, spec: core.RequestSpec) -> Any:
        for attempt in range(1, self.policy.max_tries + 1):
            try:
                return await self._send_once(spec, attempt)
            except BadHttpRequestError as exc:
                if attempt >= self.policy.max_tries or not core.may_retry(spec, exc):
                    raise
                delay = self.policy.delay(attempt, exc.retry_after)
                log.debug("retrying %s in %.2fs after: %s", spec.describe(), delay, exc)
                await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, spec: core.RequestSpec, attempt: int) -> Any:
        start = time.monotonic()
        try:
            response = await self.http.request(
                spec.method, spec.url, params=list(spec.params) or None, json=spec.json
            )
        except httpx.HTTPError as exc:
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
                never_sent=isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)),
                tls_failure=core.is_tls_verification_failure(exc),
            ) from None
        elapsed = time.monotonic() - start
        url = str(response.url)
        log.debug(
            "%s %s -> %d in %.3fs (try %d)",
            spec.method,
            url,
            response.status_code,
            elapsed,
            attempt,
        )
        return core.handle_response(
            spec, response.status_code, response.headers, response.content, url
        )

    async def aclose(self) -> None:
        await self.http.aclose()


class AsyncTaskInstanceManager(Generic[I]):
    """Read, terminate and wait for task instances without blocking."""

    resource = ""
    model: type[I]
    kind = "task instance"
    is_async = True

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def path(self) -> str:
        return core.PATHS[self.resource]

    async def _one(self, spec: core.RequestSpec) -> I:
        return self.model.from_json(await self._client._send(spec), self)

    async def get(self, uuid: str) -> I:
        spec = core.get_spec(self._client.base_api_url, self.path, checks.check_uuid(uuid))
        return await self._one(spec)

    async def terminate(self, uuid: str) -> I:
        """Ask the server to stop the instance; returns it as it is now (not yet terminated)."""
        spec = core.action_spec(
            self._client.base_api_url, self.path, checks.check_uuid(uuid), "terminate"
        )
        return await self._one(spec)

    async def list_page(
        self,
        filters: Mapping[str, Any] | None = None,
        page: int = 1,
        page_size: int = core.DEFAULT_PAGE_SIZE,
    ) -> core.Page:
        params = checks.check_filters(self.resource, filters)
        page, page_size = checks.check_page(page, page_size)
        spec = core.list_spec(self._client.base_api_url, self.path, params, page, page_size)
        count, nxt, raw = core.parse_page_envelope(spec, await self._client._send(spec))
        return core.Page(count, nxt, [self.model.from_json(item, self) for item in raw])

    async def iter(
        self, filters: Mapping[str, Any] | None = None, page_size: int = core.DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[I]:
        """Yield every matching instance, one page in memory at a time."""
        params = checks.check_filters(self.resource, filters)
        _, page_size = checks.check_page(1, page_size)
        page = 1
        while True:
            spec = core.list_spec(self._client.base_api_url, self.path, params, page, page_size)
            try:
                data = await self._client._send(spec)
            except NotFoundError:
                if page == 1:
                    raise
                return
            count, nxt, raw = core.parse_page_envelope(spec, data)
            for item in raw:
                yield self.model.from_json(item, self)
            if not core.has_next_page(page, page_size, count, nxt, len(raw)):
                return
            page += 1

    async def list(self, filters: Mapping[str, Any] | None = None) -> list[I]:
        return [item async for item in self.iter(filters)]

    async def wait_until_finished(
        self,
        uuid: str,
        refresh_period: float = core.DEFAULT_REFRESH_PERIOD,
        timeout: float | None = None,
    ) -> I:
        """Poll until terminal; after ``timeout`` s raise WaitTimeoutError (instance untouched)."""
        uuid = checks.check_uuid(uuid)
        refresh_period, timeout = checks.check_timing(refresh_period, timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            instance = await self.get(uuid)
            if instance.state.is_terminal:
                return instance
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise WaitTimeoutError(
                    core.wait_timeout_message(self.kind, uuid, timeout or 0, instance.state),
                    uuid=uuid,
                    last_state=instance.state.value,
                )
            await asyncio.sleep(
                refresh_period if remaining is None else min(refresh_period, remaining)
            )

    def front_end_url(self, uuid: str) -> str:
        root = core.server_root_url(self._client.base_api_url)
        return core.join(root, self.path, checks.check_uuid(uuid))


class AsyncExecutableTaskInstanceManager(AsyncTaskInstanceManager[ExecutableTaskInstance]):
    resource = "executable_task_instances"
    model = ExecutableTaskInstance
    kind = "executable task instance"


class AsyncContainerTaskInstanceManager(AsyncTaskInstanceManager[ContainerTaskInstance]):
    resource = "container_task_instances"
    model = ContainerTaskInstance
    kind = "container task instance"


class AsyncClient:
    """Async saltant client: ``async with AsyncClient(url, token) as ac: await ac....``.

    One ``httpx.AsyncClient`` per client; close it with ``aclose()`` or the context manager.
    """

    def __init__(
        self,
        base_api_url: str,
        auth_token: str,
        default_timeout: float = core.DEFAULT_TIMEOUT_SECONDS,
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
        self._transport = AsyncTransport(
            token, self.default_timeout, _ssl_verify(verify), self.retry_policy
        )
        self.executable_task_instances = AsyncExecutableTaskInstanceManager(self)
        self.container_task_instances = AsyncContainerTaskInstanceManager(self)

    def __repr__(self) -> str:
        return f"AsyncClient(base_api_url={self.base_api_url!r})"

    async def _send(self, spec: core.RequestSpec) -> Any:
        return await self._transport.send(spec)

    async def test_authentication(self) -> None:
        """Raise AuthenticationError if the server refuses the token."""
        spec = core.list_spec(self.base_api_url, core.PATHS["users"], {}, 1, 1)
        try:
            await self._send(spec)
        except BadHttpRequestError as exc:
            raise core.explain_auth_check(exc, self.base_api_url) from None

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
