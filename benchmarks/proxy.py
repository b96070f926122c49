"""A counting HTTP/1.1 proxy: forwards 127.0.0.1 traffic to the server, counts each request.

The local server keeps no access log, so the wait benchmark puts this in front of it and counts
requests on the server's side of the triggers (whatever the client does: retries, keep-alive).

    python -m benchmarks.proxy --upstream-port 8765 [--port 0]

prints ``counting proxy ready at PORT``. ``GET /__proxy/stats`` (answered by the proxy itself,
on a connection of its own) returns ``{"total", "by_kind", "distinct_details", "per_second"}``
(``distinct_details``: how many different instances were read with a detail GET so far).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections import Counter

STATS_PATH = b"/__proxy/stats"
HEAD_LIMIT = 64 * 1024


class Counts:
    def __init__(self) -> None:
        self.total = 0
        self.by_kind: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()
        self.details_seen: set[str] = set()  # distinct instance detail paths GET so far

    def add(self, method: str, target: str) -> None:
        path = target.split("?", 1)[0].rstrip("/")
        if method == "GET":
            kind = "GET list" if path.endswith("instances") else "GET detail"
            if kind == "GET detail":
                self.details_seen.add(path)
        else:
            kind = method
        self.total += 1
        self.by_kind[kind] += 1
        self.per_second[int(time.time())] += 1

    def as_json(self) -> bytes:
        return json.dumps({
            "total": self.total,
            "by_kind": dict(self.by_kind),
            "distinct_details": len(self.details_seen),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
        }).encode()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked request bodies are not supported")
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


async def _answer_stats(counts: Counts, writer: asyncio.StreamWriter) -> None:
    body = counts.as_json()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    await writer.drain()
    writer.close()


async def _serve_client(
    counts: Counts, upstream_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    upstream: asyncio.StreamWriter | None = None
    back: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            method, target, *_ = head.split(b"\r\n", 1)[0].split(b" ")
            if target.startswith(STATS_PATH):
                await _answer_stats(counts, writer)
                return
            body = await reader.readexactly(_content_length(head))
            if upstream is None:
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", upstream_port)
                back = asyncio.create_task(_pipe(up_reader, writer))
            counts.add(method.decode(), target.decode())
            upstream.write(head + body)
            await upstream.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        if upstream is not None:
            with contextlib.suppress(Exception):
                upstream.close()
        if back is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(back, 5)
        with contextlib.suppress(Exception):
            writer.close()


async def serve(port: int, upstream_port: int) -> None:
    counts = Counts()
    server = await asyncio.start_server(
        lambda r, w: _serve_client(counts, upstream_port, r, w),
        "127.0.0.1", port, backlog=4096, limit=HEAD_LIMIT,
    )
    actual = server.sockets[0].getsockname()[1]
    print(f"counting proxy ready at {actual}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.upstream_port))


if __name__ == "__main__":
    main()
