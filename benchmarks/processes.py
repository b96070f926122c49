"""Child processes the benchmarks drive: line-based stdout with timeouts, bounded stops."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Child:
    """A ``python -m ...`` child whose stdout lines are read by a thread (so reads can time out)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None = None,
                 stdin: bool = False) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        self.name = " ".join(str(a) for a in args[:2])  # e.g. "-m benchmarks.proxy"
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def line(self, timeout: float) -> str:
        """The next stdout line; ``TimeoutError`` after ``timeout`` s, ``EOFError`` at exit."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output from {self.name} in {timeout}s") from None
        if line is None:
            raise EOFError(f"{self.name} exited with {self.process.wait(5)}")
        return line

    def json_line(self, timeout: float) -> dict[str, Any]:
        """The next stdout line that is a JSON object (other lines, e.g. warnings, skipped)."""
        while True:
            line = self.line(timeout)
            if line.startswith("{"):
                data: dict[str, Any] = json.loads(line)
                return data

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def stop(self, timeout: float = 30.0) -> int:
        """Close stdin, wait; SIGTERM, then SIGKILL the child's process group if it lingers."""
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            return self.process.wait(10)


@contextlib.contextmanager
def child(args: Sequence[str], env: Mapping[str, str] | None = None,
          stdin: bool = False) -> Iterator[Child]:
    proc = Child(args, env, stdin)
    try:
        yield proc
    finally:
        if proc.process.poll() is None:
            proc.process.terminate()
            proc.stop(10)


def run_json(args: Sequence[str], env: Mapping[str, str] | None = None,
             timeout: float = 300.0) -> dict[str, Any]:
    """Run ``python ARGS`` to completion and parse the last stdout line as JSON."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=dict(env) if env is not None else None,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    """A temporary directory (Airflow home, uuid lists), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        yield path


def airflow_env(home: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with a temporary AIRFLOW_HOME and quiet, example-free Airflow settings."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    env.update(extra or {})
    return env
