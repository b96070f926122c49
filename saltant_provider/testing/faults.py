"""Latency and fault injection, as an ASGI middleware in front of the saltant app.

For each HTTP request, with probability ``fault_rate``, one kind out of ``fault_kinds``:

- ``5xx``: a ``503`` HTML page, decided *before* processing (nothing changed).
- ``drop``: the connection is closed with no answer at all. For ``GET`` (and other safe
  methods) this is decided *before* processing. For ``POST``/``PUT``/``PATCH`` it is decided
  *after* processing: the object is created or changed, but the answer never arrives (the
  case a retrying client must survive without creating duplicates unknowingly).
- ``slow``: the request is read, held ``slow_seconds``, then processed and answered (a
  client that gave up meanwhile does not stop a POST from creating its object).

``latency`` is added to every request the same way. Only the API (``/api/...``) is
affected. Faults are drawn when a request arrives (``seed`` makes them reproducible).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAULT_KINDS = ("5xx", "drop", "slow")
UNSAFE = ("POST", "PUT", "PATCH")


def _abort_connection(send: Send) -> bool:
    """Close the client connection under uvicorn (its ``send`` is bound to the cycle)."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort() if hasattr(transport, "abort") else transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True  # uvicorn then neither logs nor answers a 500
    return True


class FaultMiddleware:
    """Wraps an ASGI app with fixed latency and random faults."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: tuple[str, ...] = FAULT_KINDS,
        slow_seconds: float = 5.0,
        seed: int | None = None,
    ) -> None:
        unknown = set(fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {FAULT_KINDS}")
        self.app = app
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_kinds = tuple(fault_kinds) or FAULT_KINDS
        self.slow_seconds = slow_seconds
        self.random = random.Random(seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api"):
            await self.app(scope, receive, send)
            return
        kind = None  # decided on arrival, so a seed gives the same faults for the same requests
        if self.fault_rate > 0 and self.random.random() < self.fault_rate:
            kind = self.random.choice(self.fault_kinds)
        delay = self.latency + (self.slow_seconds if kind == "slow" else 0.0)
        if delay > 0:
            # Read the body first: a request held back is still processed after a client
            # gave up on it (a late POST still creates its object), as on a slow server.
            receive = await _buffered(receive)
            await asyncio.sleep(delay)
        if kind == "5xx":
            await _send_503(send)
        elif kind == "drop" and scope.get("method") in UNSAFE:
            await self._drop_after(scope, receive, send)
        elif kind == "drop":
            if not _abort_connection(send):
                raise ConnectionAbortedError("fault injection: drop")
        else:
            await self.app(scope, receive, send)

    async def _drop_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Process the request fully, swallow the answer, then close the connection."""

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        if not _abort_connection(send):
            raise ConnectionAbortedError("fault injection: drop")


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay


async def _send_503(send: Send) -> None:
    body = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
    await send({
        "type": "http.response.start",
        "status": 503,
        "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
