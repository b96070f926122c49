"""The built-in worker: commands, environment, arguments, limits, terminate, containers."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api

PY = sys.executable
Factory = Callable[..., LocalSaltantServer]


def stdout_of(server: LocalSaltantServer, inst: dict[str, Any]) -> str:
    return (Path(server.logs_dir) / f"{inst['uuid']}.stdout.log").read_text()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.05)


def test_environment_is_only_listed_vars_job_uuid_and_path(
    saltant_server_factory: Factory,
) -> None:
    env = {**os.environ, "SALTANT_T_VAR": "value one", "SALTANT_T_SECRET": "hidden"}
    server = saltant_server_factory(env=env)
    api = Api(server.url, server.token)
    t = api.exec_type(f"{PY} -c 'import os, json; print(json.dumps(dict(os.environ)))'",
                      environment_variables=["SALTANT_T_VAR"])
    q = api.queue_for(t["id"])
    inst = api.wait(api.run(t["id"], q["id"])["uuid"])
    assert inst["state"] == "successful"
    job_env = json.loads(stdout_of(server, inst))
    job_env.pop("LC_CTYPE", None)  # may be set by the Python runtime itself
    assert job_env == {"SALTANT_T_VAR": "value one", "JOB_UUID": inst["uuid"],
                       "PATH": os.environ["PATH"]}


def test_variables_expand_before_shell_style_split(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(env={**os.environ, "SALTANT_T_VAR": "a b"})
    api = Api(server.url, server.token)
    t = api.exec_type(f"{PY} -c 'import sys; print(sys.argv[1:])' $SALTANT_T_VAR '${{JOB_UUID}}'"
                      " 'two words' $NOT_LISTED", environment_variables=["SALTANT_T_VAR"])
    q = api.queue_for(t["id"])
    inst = api.wait(api.run(t["id"], q["id"])["uuid"])
    assert stdout_of(server, inst).strip() == str(
        ["a", "b", inst["uuid"], "two words", "$NOT_LISTED"])


def test_listed_variable_missing_on_the_worker_fails_the_job(api: Api) -> None:
    t = api.exec_type("true", environment_variables=["SALTANT_T_SURELY_UNSET_VAR"])
    q = api.queue_for(t["id"])
    assert api.wait(api.run(t["id"], q["id"])["uuid"])["state"] == "failed"


def test_arguments_are_appended_as_json_only_when_present(
    saltant_server: LocalSaltantServer, api: Api,
) -> None:
    t = api.exec_type(f"{PY} -c 'import sys; print(sys.argv[1:])'")
    q = api.queue_for(t["id"])
    without = api.wait(api.run(t["id"], q["id"])["uuid"])
    assert stdout_of(saltant_server, without).strip() == "[]"
    args = {"msg": "hi there", "n": [1, 2]}
    with_args = api.wait(api.run(t["id"], q["id"], arguments=args)["uuid"])
    assert stdout_of(saltant_server, with_args).strip() == str([json.dumps(args)])


def test_json_file_option(saltant_server: LocalSaltantServer, api: Api) -> None:
    code = "import sys; print(sys.argv[1]); print(open(sys.argv[2]).read())"
    t = api.exec_type(f'{PY} -c "{code}"', json_file_option="--json-file")
    q = api.queue_for(t["id"])
    inst = api.wait(api.run(t["id"], q["id"], arguments={"k": "v"})["uuid"])
    assert inst["state"] == "successful"
    option, content = stdout_of(saltant_server, inst).split("\n", 1)
    assert option == "--json-file" and json.loads(content) == {"k": "v"}


def test_exit_code_decides_success(api: Api) -> None:
    t = api.exec_type(f"{PY} -c 'import sys; sys.exit(3)'")
    q = api.queue_for(t["id"])
    failed = api.wait(api.run(t["id"], q["id"])["uuid"])
    assert failed["state"] == "failed" and failed["datetime_finished"]
    t = api.exec_type("/no/such/program")
    q = api.queue_for(t["id"])
    assert api.wait(api.run(t["id"], q["id"])["uuid"])["state"] == "failed"


def test_terminate_kills_the_whole_process_group(api: Api, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    t = api.exec_type(f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'")
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    assert alive(child)
    api.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate/", 202)
    assert api.wait(inst["uuid"])["state"] == "terminated"
    wait_for(lambda: not alive(child))


def test_terminate_before_it_runs(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(no_worker=True)
    api = Api(server.url, server.token)
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    api.wait(inst["uuid"], {"published"})
    assert api.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate/", 202)[
        "state"] == "published"
    assert api.wait(inst["uuid"])["state"] == "terminated"


def test_no_worker_leaves_instances_published(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(no_worker=True)
    api = Api(server.url, server.token)
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    assert api.wait(inst["uuid"], {"published"})["state"] == "published"
    time.sleep(0.5)
    assert api.ok("GET", f"executabletaskinstances/{inst['uuid']}/", 200)["state"] == "published"


def test_max_jobs_and_inactive_queue(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(max_jobs=1)
    api = Api(server.url, server.token)
    slow = api.exec_type("sleep 1")
    quick = api.exec_type("true")
    q = api.queue_for(slow["id"], quick["id"])
    first = api.run(slow["id"], q["id"])
    api.wait(first["uuid"], {"running"})
    second = api.run(quick["id"], q["id"])
    api.ok("PATCH", f"taskqueues/{q['id']}/", 200, json={"active": False})
    assert api.wait(second["uuid"], {"published", "running"})["state"] == "published"
    assert api.wait(first["uuid"])["state"] == "successful"
    time.sleep(0.3)  # the slot is free, but the queue is inactive: the job waits
    assert api.ok("GET", f"executabletaskinstances/{second['uuid']}/", 200)[
        "state"] == "published"
    api.ok("PATCH", f"taskqueues/{q['id']}/", 200, json={"active": True})
    assert api.wait(second["uuid"])["state"] == "successful"


@pytest.mark.skipif(shutil.which("singularity") is not None, reason="singularity installed")
def test_container_without_runtime_fails_at_once(
    saltant_server: LocalSaltantServer, api: Api,
) -> None:
    ctype = api.ok("POST", "containertasktypes/", 201, json={
        "name": f"c-{uuid.uuid4().hex[:8]}", "command_to_run": "echo hi",
        "container_image": "busybox", "container_type": "singularity"})
    wl = api.ok("POST", "taskwhitelists/", 201, json={
        "name": "cwl", "whitelisted_container_task_types": [ctype["id"]]})
    q = api.ok("POST", "taskqueues/", 201, json={"name": f"cq-{uuid.uuid4().hex[:8]}",
                                                 "whitelists": [wl["id"]]})
    inst = api.ok("POST", "containertaskinstances/", 201,
                  json={"task_type": ctype["id"], "task_queue": q["id"]})
    deadline = time.monotonic() + 10
    while True:
        got = api.ok("GET", f"containertaskinstances/{inst['uuid']}/", 200)
        if got["state"] == "failed" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got["state"] == "failed" and got["datetime_finished"]
    assert "singularity is not installed" in (
        Path(saltant_server.logs_dir) / f"{inst['uuid']}.stderr.log").read_text()
    clone = api.ok("POST", f"containertaskinstances/{inst['uuid']}/clone/", 201)
    assert clone["task_type"] == ctype["id"] and clone["state"] == "created"
    assert api.ok("POST", f"containertaskinstances/{clone['uuid']}/terminate/", 202)
    # The executable route does not know a container instance.
    resp = api.post(f"executabletaskinstances/{inst['uuid']}/clone/")
    assert resp.status_code == 405 and resp.content == b""
    assert api.get(f"executabletaskinstances/{inst['uuid']}/").status_code == 404
    noexec = api.ok("POST", "taskqueues/", 201, json={
        "name": f"cq2-{uuid.uuid4().hex[:8]}", "whitelists": [wl["id"]],
        "runs_singularity_container_tasks": False})
    resp = api.post("containertaskinstances/", json={"task_type": ctype["id"],
                                                     "task_queue": noexec["id"]})
    assert resp.json() == {"non_field_errors": [
        f"['Queue {noexec['name']} does not accept singularity container tasks']"]}


def test_quirks(saltant_server_factory: Factory) -> None:
    server = saltant_server_factory(quirks=["published-late", "terminate-ignored"])
    api = Api(server.url, server.token)
    t = api.exec_type("sleep 2")
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    # "running" lasts only 50 ms here: see the job start by its log file instead.
    wait_for(lambda: (Path(server.logs_dir) / f"{inst['uuid']}.stdout.log").exists())
    time.sleep(0.3)
    assert api.ok("GET", f"executabletaskinstances/{inst['uuid']}/", 200)["state"] == "published"
    api.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate/", 202)
    assert api.wait(inst["uuid"])["state"] == "successful"  # the terminate was ignored


def test_jobs_cannot_read_the_admin_token(api: Api) -> None:
    t = api.exec_type("true", environment_variables=["SALTANT_LOCAL_TOKEN"])
    q = api.queue_for(t["id"])
    assert api.wait(api.run(t["id"], q["id"])["uuid"])["state"] == "failed"
