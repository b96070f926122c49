"""Errors raised by the saltant client. Names follow saltant-py; none ever carries the token."""

from __future__ import annotations


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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.url = url
        self.method = method
        self.body = body

    def __str__(self) -> str:
        where = f"{self.method} {self.url}" if self.method and self.url else (self.url or "")
        status = f"HTTP {self.status_code}" if self.status_code is not None else "no HTTP answer"
        prefix = f"{status} from {where}: " if where else f"{status}: "
        return prefix + self.message


class AuthenticationError(BadHttpRequestError):
    """The server refused the credentials (saltant answers 403 for a missing or bad token)."""


class InvalidRequestError(SaltantError, ValueError):
    """Bad input caught before any request was sent (bad URL, empty token, malformed uuid, ...)."""


class WaitTimeoutError(SaltantError, TimeoutError):
    """A wait for a task instance ran past its timeout. The remote instance was left alone."""

    def __init__(self, message: str, *, uuid: str, last_state: str | None) -> None:
        super().__init__(message)
        self.uuid = uuid
        self.last_state = last_state
