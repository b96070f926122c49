"""Command line: ``python -m saltant_provider.testing serve --port 8765 --token TOKEN``.

Prints exactly one line, ``saltant-compatible server ready at http://HOST:PORT/api/``, once
the socket listens (``--port 0`` picks a free port, shown in that line). Ctrl-C or SIGTERM
stops the server and kills the jobs it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from .app import SaltantApp
from .faults import FAULT_KINDS, FaultMiddleware
from .store import Store
from .worker import QUIRKS, Worker

READY = "saltant-compatible server ready at {scheme}://{host}:{port}/api/"


def _user(spec: str) -> tuple[str, str, str]:
    """``NAME:TOKEN[:PASSWORD]``; the password defaults to the user name."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("expected NAME:TOKEN or NAME:TOKEN:PASSWORD")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else parts[0]


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = set(kinds) - set(FAULT_KINDS)
    if bad:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {sorted(bad)}; use {FAULT_KINDS}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m saltant_provider.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run a local saltant-compatible server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--token", default=os.environ.get("SALTANT_LOCAL_TOKEN"),
                   help="API token of the superuser 'admin' (or $SALTANT_LOCAL_TOKEN)")
    p.add_argument("--password", default="admin", help="admin's password, for JWT")
    p.add_argument("--user", action="append", type=_user, default=[], metavar="NAME:TOKEN",
                   help="extra non-admin user (NAME:TOKEN[:PASSWORD]); repeatable")
    p.add_argument("--db", default=":memory:", help="SQLite file kept across restarts")
    p.add_argument("--no-worker", action="store_true", help="publish jobs, never run them")
    p.add_argument("--max-jobs", type=int, default=16, help="jobs running at once")
    p.add_argument("--quirk", action="append", choices=sorted(QUIRKS), default=[],
                   help="reproduce a real saltant oddity (repeatable): "
                   + "; ".join(f"{k}: {v}" for k, v in sorted(QUIRKS.items())))
    p.add_argument("--logs-dir", default=None, help="job stdout/stderr (default: a temp dir)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests faulted")
    p.add_argument("--fault-kinds", type=_kinds, default=FAULT_KINDS, help="5xx,drop,slow")
    p.add_argument("--slow-seconds", type=float, default=5.0, help="delay of a 'slow' fault")
    p.add_argument("--fault-seed", type=int, default=None, help="seed for reproducible faults")
    p.add_argument("--tls-cert", default=None, help="PEM certificate: serve HTTPS")
    p.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    p.add_argument("--backlog", type=int, default=2048)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--parent-pid", type=int, default=None,
                   help="stop when this process is gone (used by LocalSaltantServer)")
    cert = sub.add_parser("tls-cert", help="write a self-signed cert.pem/key.pem for 127.0.0.1")
    cert.add_argument("directory")
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Run uvicorn with the app until a signal; print the ready line once listening."""
    import uvicorn

    store = Store(args.db)
    store.upsert_user("admin", args.token, args.password, superuser=True)
    for name, token, password in args.user:
        store.upsert_user(name, token, password, superuser=False)
    worker = Worker(store, enabled=not args.no_worker, max_jobs=args.max_jobs,
                    logs_dir=args.logs_dir, quirks=frozenset(args.quirk))
    app: Any = SaltantApp(store, worker)
    if args.latency > 0 or args.fault_rate > 0:
        app = FaultMiddleware(app, latency=args.latency, fault_rate=args.fault_rate,
                              fault_kinds=args.fault_kinds, slow_seconds=args.slow_seconds,
                              seed=args.fault_seed)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        backlog=args.backlog,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if args.parent_pid:
        watch = asyncio.create_task(_watch_parent(args.parent_pid, server))
        task.add_done_callback(lambda _: watch.cancel())
    if server.started:
        port = server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if args.tls_cert else "http"
        print(READY.format(scheme=scheme, host=args.host, port=port), flush=True)
    await task


async def _watch_parent(pid: int, server: Any) -> None:
    """Shut down when the test process that started us is gone (no orphaned servers)."""
    while True:
        await asyncio.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logging.getLogger(__name__).warning("parent %d is gone: shutting down", pid)
            server.should_exit = True
            return
        except PermissionError:
            pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.pop("SALTANT_LOCAL_TOKEN", None)  # jobs must not be able to read it
    if args.command == "tls-cert":
        from .tls import generate_self_signed_cert

        cert_path, key_path = generate_self_signed_cert(args.directory)
        print(f"{cert_path}\n{key_path}")
        return 0
    if not args.token:
        print("error: --token (or $SALTANT_LOCAL_TOKEN) is required", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    for option in ("tls_cert", "tls_key"):
        path = getattr(args, option)
        if path and not os.path.isfile(path):
            print(f"error: --{option.replace('_', '-')} {path}: no such file", file=sys.stderr)
            return 2
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def stop_quietly(signum: int, frame: Any) -> None:
        # uvicorn re-raises the signal it caught once it has shut down: end with status 0.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop_quietly)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
