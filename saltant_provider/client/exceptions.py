"""Errors raised by the saltant client. Names follow saltant-py; none ever carries the token.

``from saltant_provider.client.exceptions import BadHttpRequestError`` works like
``from saltant.exceptions import BadHttpRequestError``; the extra classes are subclasses, so code
catching saltant-py's three names catches everything the server side can raise.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadEnvironmentError",
    "BadHttpRequestError",
    "InvalidRequestError",
    "NotFoundError",
    "SaltantConnectionError",
    "SaltantError",
    "UnexpectedResponseError",
    "WaitTimeoutError",
]


class SaltantError(Exception):
    """Base class of every error this client raises."""


class BadEnvironmentError(SaltantError):
    """A required environment variable (``SALTANT_API_URL``, ``SALTANT_AUTH_TOKEN``) is missing."""


class BadHttpRequestError(SaltantError):
    """The server answered with an error status, or gave an answer the client cannot read.

    ``status_code`` is None when no HTTP answer arrived (connection error, timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        url: str | None = None,
        method: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.url = url
        self.method = method
        self.body = body
        #: Seconds the server asked us to wait (``Retry-After``), if it said so.
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.method} {self.url}" if self.method and self.url else (self.url or "")
        status = f"HTTP {self.status_code}" if self.status_code is not None else "no HTTP answer"
        prefix = f"{status} from {where}: " if where else f"{status}: "
        return prefix + self.message


class AuthenticationError(BadHttpRequestError):
    """The server refused the credentials (saltant answers 403 for a missing or bad token)."""


class NotFoundError(BadHttpRequestError):
    """The object asked for does not exist (HTTP 404, or no object has the name asked for)."""


class SaltantConnectionError(BadHttpRequestError):
    """No HTTP answer arrived: connection refused, reset, TLS failure or request timeout.

    ``request_sent`` is False when the connection was never made, so the request cannot have
    reached the server and is safe to send again even if it creates something.
    ``permanent`` is True for failures a retry cannot fix (TLS certificate verification).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        method: str | None = None,
        request_sent: bool = True,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, url=url, method=method)
        self.request_sent = request_sent
        self.permanent = permanent


class UnexpectedResponseError(BadHttpRequestError):
    """The server answered with success but a body this client cannot read as saltant data."""


class InvalidRequestError(SaltantError, ValueError):
    """Bad input caught before any request was sent (bad URL, empty token, malformed uuid, ...)."""


class WaitTimeoutError(SaltantError, TimeoutError):
    """A wait for a task instance ran past its timeout. The remote instance was left alone."""

    def __init__(self, message: str, *, uuid: str, last_state: str | None) -> None:
        super().__init__(message)
        self.uuid = uuid
        self.last_state = last_state
