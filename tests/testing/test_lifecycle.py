"""Server lifecycle: persistence with --db, SIGTERM, startup failures, faults, TLS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from saltant_provider.testing import LocalSaltantServer, ServerStartError
from saltant_provider.testing.tls import generate_self_signed_cert

from .conftest import Api
from .test_worker import alive, wait_for

Factory = Callable[..., LocalSaltantServer]


def test_objects_and_tokens_survive_a_restart(saltant_server_factory: Factory,
                                              tmp_path: Path) -> None:
    server = saltant_server_factory(db=tmp_path / "saltant.sqlite3", users={"bob": None})
    api = Api(server.url, server.token)
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.wait(api.run(t["id"], q["id"], arguments={"a": 1})["uuid"])
    pair = api.ok("POST", "token/", 200, json={"username": "bob", "password": "bob"})
    server.restart()
    assert api.ok("GET", f"executabletaskinstances/{inst['uuid']}/", 200) == inst
    assert api.ok("GET", f"taskqueues/{q['id']}/", 200) == q
    assert Api(server.url, server.users["bob"]).get("users/bob/").status_code == 200
    assert api.post("token/refresh/", json={"refresh": pair["refresh"]}).status_code == 200
    assert api.exec_type()["id"] == t["id"] + 1


def test_sigterm_kills_running_jobs(saltant_server_factory: Factory, tmp_path: Path) -> None:
    server = saltant_server_factory(db=tmp_path / "db.sqlite3")
    api = Api(server.url, server.token)
    pidfile = tmp_path / "child.pid"
    t = api.exec_type(f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'")
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 10
    wait_for(lambda: not alive(child), timeout=5)
    server.start()
    assert api.ok("GET", f"executabletaskinstances/{inst['uuid']}/", 200)["state"] == "failed"


def test_cli_prints_one_ready_line_and_stops_on_sigint(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "saltant_provider.testing", "serve", "--port", "0",
         "--token", "cli-secret-token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("saltant-compatible server ready at http://127.0.0.1:")
        assert line.rstrip().endswith("/api/")
        proc.send_signal(2)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and out == ""
        assert "cli-secret-token" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_start_failure_reports_stderr(tmp_path: Path) -> None:
    server = LocalSaltantServer(tls_cert=tmp_path / "missing.pem", tls_key=tmp_path / "k.pem",
                                startup_timeout=20)
    with pytest.raises(ServerStartError) as err:
        server.start()
    assert "exited with status 2" in str(err.value) and "missing.pem" in str(err.value)
    assert server.token not in str(err.value)


def test_latency(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(latency=0.3)
    api = Api(server.url, server.token)
    started = time.monotonic()
    assert api.get("users/").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_5xx(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(fault_rate=1.0, fault_kinds="5xx")
    resp = Api(server.url, server.token).get("users/")
    assert resp.status_code == 503 and "text/html" in resp.headers["content-type"]


def test_fault_slow(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(fault_rate=1.0, fault_kinds=["slow"], slow_seconds=1)
    api = Api(server.url, server.token)
    with pytest.raises(requests.Timeout):
        api.get("users/", timeout=0.3)
    with pytest.raises(requests.Timeout):
        api.post("taskqueues/", json={"name": "late-queue"}, timeout=0.3)
    # The abandoned POST is still processed once its delay is over.
    time.sleep(1.5)
    found = api.ok("GET", "taskqueues/", 200, params={"name": "late-queue"}, timeout=5)
    assert found["count"] == 1
    assert "Traceback" not in server.stderr()


def test_fault_drop_get_and_post(saltant_server_factory: Factory, tmp_path: Path) -> None:
    db = tmp_path / "drop.sqlite3"
    faulty = saltant_server_factory(fault_rate=1.0, fault_kinds=["drop"], db=db)
    api = Api(faulty.url, faulty.token)
    with pytest.raises(requests.ConnectionError):
        api.get("users/")
    with pytest.raises(requests.ConnectionError):
        api.post("taskqueues/", json={"name": "made-but-unanswered"})
    faulty.stop()
    # The POST was processed before the connection was dropped: the queue exists.
    clean = saltant_server_factory(db=db, token=faulty.token)
    found = Api(clean.url, clean.token).ok("GET", "taskqueues/", 200,
                                           params={"name": "made-but-unanswered"})
    assert found["count"] == 1


def test_tls(saltant_server_factory: Factory, tmp_path: Path) -> None:
    cert, key = generate_self_signed_cert(tmp_path)
    server = saltant_server_factory(tls_cert=cert, tls_key=key)
    assert server.url.startswith("https://127.0.0.1:")
    api = Api(server.url, server.token, verify=str(cert))
    assert api.ok("GET", "users/", 200)["count"] == 1
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "users/", timeout=10)
    page = api.ok("GET", "users/", 200, params={"page_size": 0})
    assert page["next"] is None
    local = requests.get(server.url.replace("127.0.0.1", "localhost") + "users/",
                         verify=str(cert), headers=api.session.headers, timeout=10)
    assert local.status_code == 200
    assert os.stat(key).st_mode & 0o077 == 0


def test_server_stops_when_its_parent_dies(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "from saltant_provider.testing import LocalSaltantServer\n"
        "s = LocalSaltantServer().start()\n"
        "print(s.process.pid, flush=True)\n"
        "os._exit(0)\n"  # no cleanup: the server must notice on its own
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    pid = int(out.stdout.strip())
    wait_for(lambda: not alive(pid), timeout=15)


def test_tls_cert_command(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "saltant_provider.testing", "tls-cert",
                          str(tmp_path)], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == [str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")]
    assert (tmp_path / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_fault_seed_makes_faults_reproducible(saltant_server_factory: Factory) -> None:
    def pattern() -> list[str]:
        server = saltant_server_factory(fault_rate=0.5, fault_kinds="5xx,drop", fault_seed=7)
        api = Api(server.url, server.token)
        seen = []
        for _ in range(12):
            try:
                seen.append(str(api.get("users/").status_code))
            except requests.ConnectionError:
                seen.append("drop")
        return seen

    first = pattern()
    assert first == pattern()
    assert {"200", "503", "drop"} <= set(first)
