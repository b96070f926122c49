"""Every endpoint and method: status codes and bodies as the real server gives them."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api

LISTS = ("users/", "executabletaskinstances/", "containertaskinstances/",
         "executabletasktypes/", "containertasktypes/", "taskqueues/", "taskwhitelists/")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


def test_api_root_lists_the_routes(api: Api) -> None:
    root = api.ok("GET", "", 200)
    assert root["taskqueues"] == api.url("taskqueues/")


@pytest.mark.parametrize("path", LISTS)
def test_lists_answer_with_and_without_trailing_slash(api: Api, path: str) -> None:
    for p in (path, path.rstrip("/")):
        body = api.ok("GET", p, 200)
        assert set(body) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize("path", LISTS)
def test_delete_is_405_everywhere(api: Api, path: str) -> None:
    resp = api.request("DELETE", path)
    assert resp.status_code == 405
    assert resp.json() == {"detail": 'Method "DELETE" not allowed.'}


def test_head_and_options_are_405(api: Api) -> None:
    head = api.request("HEAD", "taskqueues/")
    assert head.status_code == 405 and head.content == b""
    options = api.request("OPTIONS", "taskqueues/")
    assert options.status_code == 405
    assert options.json() == {"detail": 'Method "OPTIONS" not allowed.'}


def test_methods_not_listed_are_405(api: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    cases = [
        ("POST", "users/"), ("PUT", "users/admin/"),
        ("PATCH", f"executabletasktypes/{t['id']}/"), ("PUT", "executabletasktypes/"),
        ("PUT", f"executabletaskinstances/{inst['uuid']}/"),
        ("GET", f"executabletaskinstances/{inst['uuid']}/clone/"),
        ("GET", f"executabletaskinstances/{inst['uuid']}/terminate/"),
        ("GET", f"updatetaskinstancestatus/{inst['uuid']}/"),
        ("POST", f"taskqueues/{q['id']}/"),
    ]
    for method, path in cases:
        resp = api.request(method, path)
        assert resp.status_code == 405, (method, path)
        assert resp.json() == {"detail": f'Method "{method}" not allowed.'}


def test_unknown_objects_are_404(api: Api) -> None:
    for path in (f"executabletaskinstances/{uuid.uuid4()}/", "executabletaskinstances/nope/",
                 "executabletasktypes/999999/", "taskqueues/abc/", "taskwhitelists/999999",
                 "users/nobody/", f"updatetaskinstancestatus/{uuid.uuid4()}/"):
        method = "PATCH" if path.startswith("update") else "GET"
        resp = api.request(method, path, json={"state": "running"})
        assert resp.status_code == 404, path
        assert resp.json() == {"detail": "Not found."}


def test_unknown_route_is_a_404_page(api: Api) -> None:
    resp = api.get("nosuchthing/")
    assert resp.status_code == 404 and "text/html" in resp.headers["content-type"]


def test_instance_shape_and_datetimes(api: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"], name="shape", arguments={"x": 1})
    assert list(inst) == ["uuid", "user", "name", "state", "datetime_created",
                          "datetime_finished", "arguments", "task_queue", "task_type"]
    assert inst["user"] == "admin" and inst["state"] == "created"
    assert inst["task_queue"] == q["id"] and inst["task_type"] == t["id"]
    assert DATETIME.match(inst["datetime_created"]) and inst["datetime_finished"] is None
    done = api.wait(inst["uuid"])
    assert done["state"] == "successful" and DATETIME.match(done["datetime_finished"])


def test_type_queue_whitelist_user_shapes(api: Api) -> None:
    t = api.exec_type()
    assert list(t) == ["id", "user", "name", "description", "datetime_created",
                       "command_to_run", "environment_variables", "required_arguments",
                       "required_arguments_default_values", "json_file_option"]
    c = api.ok("POST", "containertasktypes/", 201, json={
        "name": f"c-{uuid.uuid4().hex[:8]}", "command_to_run": "run", "container_image": "busybox",
        "container_type": "docker"})
    assert "json_file_option" not in c
    assert {"logs_path", "results_path", "container_image", "container_type"} <= set(c)
    q = api.queue_for(t["id"])
    assert list(q) == ["id", "user", "name", "description", "private", "runs_executable_tasks",
                       "runs_docker_container_tasks", "runs_singularity_container_tasks",
                       "active", "whitelists"]
    wl = api.ok("GET", f"taskwhitelists/{q['whitelists'][0]}/", 200)
    assert list(wl) == ["id", "user", "name", "description", "whitelisted_container_task_types",
                        "whitelisted_executable_task_types"]
    assert wl["whitelisted_executable_task_types"] == [t["id"]]
    assert api.ok("GET", "users/admin/", 200) == {"username": "admin", "email": ""}


def test_clone_is_201_with_callers_user(api: Api, alice: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"])
    src = api.run(t["id"], q["id"], name="orig", arguments={"k": "v"})
    clone = alice.ok("POST", f"executabletaskinstances/{src['uuid']}/clone/", 201)
    assert clone["uuid"] != src["uuid"] and clone["state"] == "created"
    assert clone["user"] == "alice"
    for key in ("name", "task_type", "task_queue", "arguments"):
        assert clone[key] == src[key]


def test_clone_and_terminate_of_unknown_uuid_is_405_empty(api: Api) -> None:
    for action in ("clone", "terminate"):
        resp = api.post(f"executabletaskinstances/{uuid.uuid4()}/{action}/")
        assert resp.status_code == 405 and resp.content == b""


def test_terminate_is_202_and_answers_the_current_state(api: Api) -> None:
    t = api.exec_type("sleep 30")
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    api.wait(inst["uuid"], {"running"})
    answer = api.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate/", 202)
    assert answer["state"] == "running"
    ended = api.wait(inst["uuid"])
    assert ended["state"] == "terminated" and ended["datetime_finished"] is None
    again = api.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate", 202)
    assert again["state"] == "terminated"


def test_terminate_of_a_finished_instance_leaves_it(api: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"])
    done = api.wait(api.run(t["id"], q["id"])["uuid"])
    answer = api.ok("POST", f"executabletaskinstances/{done['uuid']}/terminate/", 202)
    assert answer["state"] == "successful"
    assert api.wait(done["uuid"])["state"] == "successful"


def test_update_status(api: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"], active=False)  # nothing runs: we report states ourselves
    q2 = api.queue_for(t["id"])
    api.ok("PATCH", f"taskqueues/{q['id']}/", 200, json={"active": True})
    inst = api.run(t["id"], q2["id"])
    api.wait(inst["uuid"])
    body = api.ok("PATCH", f"updatetaskinstancestatus/{inst['uuid']}/", 200,
                  json={"state": "failed"})
    assert body == {"uuid": inst["uuid"], "state": "failed"}
    resp = api.request("PATCH", f"updatetaskinstancestatus/{inst['uuid']}", json={"state": "x"})
    assert resp.status_code == 400


def test_put_by_non_owner_is_403(api: Api, alice: Api) -> None:
    t = api.exec_type()
    resp = alice.request("PUT", f"executabletasktypes/{t['id']}/",
                         json={"name": t["name"], "command_to_run": "false"})
    assert resp.status_code == 403
    assert resp.json() == {"detail": "You do not have permission to perform this action."}
    q = api.queue_for(t["id"])
    assert alice.request("PATCH", f"taskqueues/{q['id']}/", json={"description": "x"}
                         ).status_code == 403


def test_put_by_superuser_takes_ownership(api: Api, alice: Api) -> None:
    t = alice.exec_type()
    assert t["user"] == "alice"
    updated = api.ok("PUT", f"executabletasktypes/{t['id']}/", 200,
                     json={"name": t["name"], "command_to_run": "echo new"})
    assert updated["user"] == "admin" and updated["command_to_run"] == "echo new"
    assert updated["datetime_created"] == t["datetime_created"]


def test_owner_patches_own_queue(alice: Api) -> None:
    t = alice.exec_type()
    q = alice.queue_for(t["id"])
    patched = alice.ok("PATCH", f"taskqueues/{q['id']}/", 200, data={"description": "mine"})
    assert patched["description"] == "mine" and patched["active"] is True


def test_front_end_pages(saltant_server: LocalSaltantServer, api: Api) -> None:
    t = api.exec_type()
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    root = saltant_server.root_url
    ok = requests.get(f"{root}executabletaskinstances/{inst['uuid']}/", timeout=10)
    assert ok.status_code == 200 and inst["uuid"] in ok.text
    wrong = requests.get(f"{root}containertaskinstances/{inst['uuid']}/", timeout=10)
    assert wrong.status_code == 404


def test_datetime_fraction_is_dropped_when_zero() -> None:
    from saltant_provider.testing.store import format_dt

    assert format_dt("2026-11-29T21:14:59.000000Z") == "2026-11-29T21:14:59Z"
    assert format_dt("2026-11-29T21:14:59.000100Z") == "2026-11-29T21:14:59.000100Z"
    assert format_dt(None) is None


def test_any_user_may_terminate(api: Api, alice: Api) -> None:
    t = api.exec_type("sleep 30")
    q = api.queue_for(t["id"])
    inst = api.run(t["id"], q["id"])
    alice.ok("POST", f"executabletaskinstances/{inst['uuid']}/terminate/", 202)
    assert api.wait(inst["uuid"])["state"] == "terminated"
