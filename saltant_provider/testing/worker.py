"""The built-in worker: runs task instances as subprocesses on the server's event loop.

Like a saltant Celery worker, it runs an executable task's ``command_to_run`` (variables
expanded from the job's environment, split with ``shlex``) with ``json.dumps(arguments)``
appended (or ``<json_file_option> <file>``), in an environment holding only the type's
``environment_variables`` (read by name from the server's own environment), ``JOB_UUID``
and ``PATH``. Each job gets its own process group so terminate and shutdown kill the
whole tree. stdout/stderr go to ``<logs_dir>/<uuid>.stdout.log`` / ``.stderr.log``.

Queue choice: the worker serves every *active* queue. A job whose queue is inactive when
its turn comes waits (state ``published``) until the queue is made active again.
With ``enabled=False`` (``--no-worker``) jobs are published and never run. ``quirks``
(see :data:`QUIRKS`) reproduce saltant's unreliable ``published`` and ignored terminates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from .store import INSTANCE_TABLES, TYPE_TABLES, Store, now_dt

log = logging.getLogger("saltant_provider.testing.worker")

#: opt-in reproductions of real saltant oddities (``--quirk``), for client robustness tests.
QUIRKS = {
    "published-late": "a running job shows 'published' again shortly after 'running'",
    "terminate-ignored": "terminate answers 202 but the job never stops (some workers)",
}

_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def expand_vars(text: str, env: dict[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` from ``env``; unknown names are left as written."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return _VAR.sub(sub, text)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a job's whole process group (the job is its group leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def stop_group(proc: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """SIGTERM the job's group (docker passes it on to the container), SIGKILL if it lingers."""
    kill_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    kill_group(proc.pid)


class Worker:
    """Schedules, runs, terminates and reaps jobs; reports states into the store."""

    def __init__(
        self,
        store: Store,
        *,
        enabled: bool = True,
        max_jobs: int = 16,
        logs_dir: str | None = None,
        quirks: frozenset[str] = frozenset(),
    ) -> None:
        unknown = set(quirks) - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; use {sorted(QUIRKS)}")
        self.quirks = quirks
        self.store = store
        self.enabled = enabled
        self.max_jobs = max(1, max_jobs)
        self.logs_dir = Path(logs_dir or tempfile.mkdtemp(prefix="saltant-logs-"))
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._sem: asyncio.Semaphore | None = None
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._terminating: set[str] = set()
        self._parked: dict[int, list[tuple[str, str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Pick up work left from an earlier run (``--db``): unfinished jobs run again."""
        self._sem = asyncio.Semaphore(self.max_jobs)
        for kind, table in INSTANCE_TABLES.items():
            rows = self.store.select(
                f"SELECT uuid FROM {table} WHERE state IN ('created', 'published')"
                " ORDER BY seq"
            )
            for row in rows:
                self.publish(kind, row["uuid"])

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Kill every running job (process group); they end ``failed``."""
        self._closing = True
        procs = list(self._procs.values())
        if procs:
            await asyncio.wait([asyncio.ensure_future(stop_group(p, 2.0)) for p in procs],
                               timeout=timeout)
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- API hooks ---------------------------------------------------------------------------
    def publish(self, kind: str, uuid: str) -> None:
        """Called after a create or clone: the job goes ``published`` and is queued."""
        self._spawn(self._publish_and_run(kind, uuid))

    def queue_activated(self, queue_id: int) -> None:
        """A queue became active again: run what was waiting on it."""
        for kind, uuid in self._parked.pop(queue_id, []):
            self._spawn(self._run(kind, uuid))

    def terminate(self, kind: str, uuid: str) -> None:
        """Ask for termination; the state changes after the HTTP answer, as on saltant."""
        self._spawn(self._terminate(kind, uuid))

    async def _terminate(self, kind: str, uuid: str) -> None:
        await asyncio.sleep(0)
        if "terminate-ignored" in self.quirks:
            return
        table = INSTANCE_TABLES[kind]
        proc = self._procs.get(uuid)
        if proc is not None:
            self._terminating.add(uuid)
            await stop_group(proc)
            return
        row = self.store.get(table, "uuid", uuid)
        if row and row["state"] == "running":
            self._terminating.add(uuid)  # its process is starting: stopped once it exists
        elif row and row["state"] in ("created", "published"):
            self._set_state(kind, uuid, "terminated")

    # -- running -----------------------------------------------------------------------------
    def _set_state(self, kind: str, uuid: str, state: str) -> None:
        values: dict[str, Any] = {"state": state}
        if state in ("successful", "failed"):
            values["datetime_finished"] = now_dt()
        self.store.update(INSTANCE_TABLES[kind], "uuid", uuid, values)

    def _late_published(self, kind: str, uuid: str) -> None:
        """The ``published`` report arriving after ``running``, as it can on saltant."""
        row = self.store.get(INSTANCE_TABLES[kind], "uuid", uuid)
        if row is not None and row["state"] == "running":
            self._set_state(kind, uuid, "published")

    async def _publish_and_run(self, kind: str, uuid: str) -> None:
        await asyncio.sleep(0)
        row = self.store.get(INSTANCE_TABLES[kind], "uuid", uuid)
        if row is None or row["state"] not in ("created", "published"):
            return
        if row["state"] == "created":
            self._set_state(kind, uuid, "published")
        if self.enabled:
            await self._run(kind, uuid)

    async def _run(self, kind: str, uuid: str) -> None:
        assert self._sem is not None, "Worker.start() was not called"
        async with self._sem:
            if self._closing:
                return
            table = INSTANCE_TABLES[kind]
            inst = self.store.get(table, "uuid", uuid)
            if inst is None or inst["state"] != "published":
                return  # terminated while waiting
            queue = self.store.get("task_queues", "id", inst["task_queue"])
            if queue is None or not queue["active"]:
                self._parked.setdefault(inst["task_queue"], []).append((kind, uuid))
                return
            ttype = self.store.get(TYPE_TABLES[kind], "id", inst["task_type"])
            self._set_state(kind, uuid, "running")
            if "published-late" in self.quirks:
                asyncio.get_running_loop().call_later(0.05, self._late_published, kind, uuid)
            state = await self._execute(kind, inst, ttype or {})
            if uuid in self._terminating:
                self._terminating.discard(uuid)
                state = "terminated"
            elif self._closing:
                state = "failed"
            self._set_state(kind, uuid, state)

    async def _execute(self, kind: str, inst: dict[str, Any], ttype: dict[str, Any]) -> str:
        """Run the job to completion; returns ``successful`` or ``failed``."""
        uuid = inst["uuid"]
        out_path = self.logs_dir / f"{uuid}.stdout.log"
        err_path = self.logs_dir / f"{uuid}.stderr.log"
        json_file: str | None = None
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                env = {name: os.environ[name] for name in ttype.get("environment_variables", [])}
            except KeyError as exc:
                err.write(f"environment variable {exc} is not set on the worker\n".encode())
                return "failed"
            env["JOB_UUID"] = uuid
            env["PATH"] = os.environ.get("PATH", os.defpath)
            try:
                argv = shlex.split(expand_vars(ttype.get("command_to_run", ""), env))
            except ValueError as exc:
                err.write(f"cannot split command_to_run: {exc}\n".encode())
                return "failed"
            args = inst["arguments"]
            if kind == "container":
                argv = self._container_argv(ttype, env, argv, err)
                if not argv:
                    return "failed"
                if args:
                    argv.append(json.dumps(args))
            elif ttype.get("json_file_option"):
                fd, json_file = tempfile.mkstemp(prefix=f"{uuid}-", suffix=".json")
                with os.fdopen(fd, "w") as fh:
                    json.dump(args, fh)
                argv += [ttype["json_file_option"], json_file]
            elif args:
                argv.append(json.dumps(args))
            if not argv:
                err.write(b"command_to_run is empty\n")
                return "failed"
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                err.write(f"cannot start {argv[0]!r}: {exc}\n".encode())
                return "failed"
            self._procs[uuid] = proc
            if uuid in self._terminating:
                self._spawn(stop_group(proc))
            try:
                code = await proc.wait()
            finally:
                self._procs.pop(uuid, None)
                kill_group(proc.pid)  # leftover children of the job
                if json_file:
                    with contextlib.suppress(OSError):
                        os.unlink(json_file)
        return "successful" if code == 0 else "failed"

    @staticmethod
    def _container_argv(
        ttype: dict[str, Any], env: dict[str, str], argv: list[str], err: Any
    ) -> list[str]:
        """docker/singularity command line, or ``[]`` when the runtime is not installed."""
        ctype = ttype.get("container_type", "docker")
        runtime = shutil.which(ctype)
        if runtime is None:
            err.write(f"{ctype} is not installed on this worker (not on PATH)\n".encode())
            return []
        image = ttype.get("container_image", "")
        if ctype == "docker":
            flags = [f for name, value in env.items() for f in ("-e", f"{name}={value}")]
            name = f"saltant-{env['JOB_UUID']}"
            return [runtime, "run", "--rm", "--name", name, *flags, image, *argv]
        return [runtime, "exec", "--cleanenv", f"docker://{image}", *argv]

