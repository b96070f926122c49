"""A local saltant-compatible server for demos, tests and users' own CI.

It answers the saltant REST API under ``/api/`` the way the real server does (see
``README.md`` next to this file for what it reproduces and what it cannot) and runs
executable task instances as local subprocesses with its built-in worker.

Start it from a shell::

    python -m saltant_provider.testing serve --host 127.0.0.1 --port 8765 --token TOKEN

or from Python (a subprocess, stopped on exit)::

    from saltant_provider.testing import run_server
    with run_server(users={"alice": None}) as server:
        print(server.url, server.token)

Known differences from the real server: no Celery/RabbitMQ (one built-in worker serving
every active queue), the front-end pages are minimal and need no login, container jobs run
with docker/singularity only when found on ``PATH`` (otherwise they fail at once), and
jobs killed by a server shutdown end ``failed``. Needs the ``testing`` extra
(starlette, uvicorn). Imports nothing from ``saltant_provider.client`` or Airflow.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LocalSaltantServer", "ServerStartError", "run_server"]

_READY = re.compile(r"saltant-compatible server ready at (\S+)")


class ServerStartError(RuntimeError):
    """The server did not answer in time; the message carries its stderr."""


def new_token() -> str:
    """A random 40-hex API token, like Django REST framework's."""
    return secrets.token_hex(20)


class LocalSaltantServer:
    """Runs ``python -m saltant_provider.testing serve`` as a subprocess.

    Attributes once started: ``url`` (API root ``http(s)://127.0.0.1:PORT/api/``),
    ``root_url`` (front end), ``token`` (superuser ``admin``), ``users`` (name -> token,
    admin included), ``logs_dir`` (job stdout/stderr), ``port``.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        password: str = "admin",
        users: Mapping[str, str | None] | Sequence[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | os.PathLike[str] | None = None,
        logs_dir: str | os.PathLike[str] | None = None,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] | str | None = None,
        slow_seconds: float | None = None,
        fault_seed: int | None = None,
        max_jobs: int | None = None,
        no_worker: bool = False,
        quirks: Sequence[str] = (),
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.token = token or new_token()
        self.password = password
        if users is None:
            users = {}
        elif not isinstance(users, Mapping):
            users = dict.fromkeys(users)
        self.users: dict[str, str] = {"admin": self.token}
        self.users.update({name: tok or new_token() for name, tok in users.items()})
        self.host = host
        self.port = port
        self.db = str(db) if db is not None else None
        self.logs_dir = Path(logs_dir) if logs_dir else Path(tempfile.mkdtemp(prefix="saltant-"))
        self.options: dict[str, Any] = {
            "latency": latency, "fault_rate": fault_rate, "slow_seconds": slow_seconds,
            "fault_seed": fault_seed, "max_jobs": max_jobs,
        }
        if isinstance(fault_kinds, str):
            fault_kinds = fault_kinds.split(",")
        self.fault_kinds = list(fault_kinds) if fault_kinds else None
        self.no_worker = no_worker
        self.quirks = list(quirks)
        self.tls_cert = str(tls_cert) if tls_cert else None
        self.tls_key = str(tls_key) if tls_key else None
        self.env = dict(env) if env is not None else None
        self.startup_timeout = startup_timeout
        self.url = ""
        self.root_url = ""
        self.process: subprocess.Popen[str] | None = None
        self._stderr: Any = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def command(self) -> list[str]:
        """The ``serve`` command line; admin's token goes by environment (not in ``ps``)."""
        cmd = [sys.executable, "-m", "saltant_provider.testing", "serve", "--host", self.host,
               "--port", str(self.port), "--password", self.password,
               "--logs-dir", str(self.logs_dir), "--parent-pid", str(os.getpid())]
        for name, tok in self.users.items():
            if name != "admin":
                cmd += ["--user", f"{name}:{tok}"]
        if self.db:
            cmd += ["--db", self.db]
        for key, value in self.options.items():
            if value:
                cmd += ["--" + key.replace("_", "-"), str(value)]
        if self.fault_kinds:
            cmd += ["--fault-kinds", ",".join(self.fault_kinds)]
        if self.no_worker:
            cmd.append("--no-worker")
        for quirk in self.quirks:
            cmd += ["--quirk", quirk]
        if self.tls_cert and self.tls_key:
            cmd += ["--tls-cert", self.tls_cert, "--tls-key", self.tls_key]
        return cmd

    def start(self) -> LocalSaltantServer:
        """Start and wait until the server listens, or raise :class:`ServerStartError`."""
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (kept open while running)
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env={**(self.env if self.env is not None else os.environ),
                 "SALTANT_LOCAL_TOKEN": self.token},
            start_new_session=True,
        )
        found: list[str] = []
        ready = threading.Event()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                match = _READY.search(line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True, name="saltant-server-stdout").start()
        if not ready.wait(self.startup_timeout) or not found:
            if ready.is_set():  # stdout closed: the process is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(5)
            code = self.process.poll()
            self.stop()
            why = (f"exited with status {code}" if code is not None
                   else f"did not answer within {self.startup_timeout}s")
            raise ServerStartError(f"local saltant server {why}; stderr:\n{self.stderr()}")
        self.url = found[0]
        self.root_url = self.url[: -len("api/")]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self

    def stderr(self) -> str:
        """What the server wrote to stderr so far (never holds tokens)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return str(self._stderr.read())

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server (it kills its jobs), SIGKILL after ``timeout``; exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def restart(self) -> LocalSaltantServer:
        """Stop and start again on the same port (with ``db`` set, objects survive)."""
        self.stop()
        return self.start()

    def __enter__(self) -> LocalSaltantServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalSaltantServer(url={self.url!r})"


@contextlib.contextmanager
def run_server(**options: Any) -> Iterator[LocalSaltantServer]:
    """Context manager: a started :class:`LocalSaltantServer`, stopped on exit."""
    server = LocalSaltantServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
