"""Request bodies: JSON vs form data, and the real server's 400 bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .conftest import Api

NF = "non_field_errors"


def test_form_queue_leaves_out_booleans_as_false(api: Api) -> None:
    q = api.ok("POST", "taskqueues/", 201, data={"name": f"form-{uuid.uuid4().hex[:8]}"})
    assert q["active"] is False and q["runs_executable_tasks"] is False
    assert q["private"] is False and q["whitelists"] == []


def test_json_queue_uses_model_defaults(api: Api) -> None:
    q = api.ok("POST", "taskqueues/", 201, json={"name": f"json-{uuid.uuid4().hex[:8]}"})
    assert q["active"] is True and q["runs_executable_tasks"] is True
    assert q["runs_docker_container_tasks"] is True and q["private"] is False


def test_form_booleans_and_repeated_list_keys(api: Api) -> None:
    wls = [api.ok("POST", "taskwhitelists/", 201, data={"name": "w"})["id"] for _ in range(2)]
    q = api.ok("POST", "taskqueues/", 201, data={
        "name": f"f2-{uuid.uuid4().hex[:8]}", "private": "True", "active": "true",
        "runs_executable_tasks": "False", "whitelists": wls})
    assert q["private"] is True and q["active"] is True and q["runs_executable_tasks"] is False
    assert q["whitelists"] == wls


def test_form_patch_changes_only_what_it_sends(api: Api) -> None:
    q = api.ok("POST", "taskqueues/", 201, json={"name": f"p-{uuid.uuid4().hex[:8]}"})
    patched = api.ok("PATCH", f"taskqueues/{q['id']}/", 200, data={"description": "d"})
    assert patched["active"] is True and patched["description"] == "d"
    put = api.ok("PUT", f"taskqueues/{q['id']}/", 200, data={"name": q["name"]})
    assert put["active"] is False  # a form PUT is a full update: missing booleans are false


def test_queue_name_rules(api: Api) -> None:
    resp = api.post("taskqueues/", json={"name": "bad name!"})
    assert resp.status_code == 400 and resp.json() == {"name": [" @/+/-/_ only"]}
    name = f"dup-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "taskqueues/", 201, json={"name": name})
    resp = api.post("taskqueues/", json={"name": name})
    assert resp.json() == {"name": ["task queue with this name already exists."]}
    resp = api.post("taskqueues/", json={"name": "x" * 51})
    assert resp.json() == {"name": ["Ensure this field has no more than 50 characters."]}
    resp = api.post("taskqueues/", json={"whitelists": [999999]})
    assert resp.json() == {"name": ["This field is required."],
                           "whitelists": ['Invalid pk "999999" - object does not exist.']}


def test_type_400s(api: Api) -> None:
    t = api.exec_type()
    resp = api.post("executabletasktypes/", json={"name": t["name"], "command_to_run": "x"})
    assert resp.json() == {"name": ["executable task type with this name already exists."]}
    resp = api.post("executabletasktypes/", data={
        "name": f"t-{uuid.uuid4().hex}", "command_to_run": "x",
        "required_arguments": json.dumps(["a"]),
        "required_arguments_default_values": json.dumps({"b": 1})})
    assert resp.status_code == 400
    assert resp.json() == {NF: ["['default arguments not a subset of required arguments']"]}
    resp = api.post("executabletasktypes/", json={})
    assert resp.json() == {"name": ["This field is required."],
                           "command_to_run": ["This field is required."]}
    resp = api.post("containertasktypes/", json={
        "name": "c", "command_to_run": "x", "container_image": "i", "container_type": "lxc"})
    assert resp.json() == {"container_type": ['"lxc" is not a valid choice.']}


def test_type_json_fields_from_form(api: Api) -> None:
    t = api.ok("POST", "executabletasktypes/", 201, data={
        "name": f"t-{uuid.uuid4().hex}", "command_to_run": "echo",
        "environment_variables": json.dumps(["HOME"]), "required_arguments": json.dumps(["a"]),
        "required_arguments_default_values": json.dumps({"a": 5}),
        "json_file_option": "--json"})
    assert t["environment_variables"] == ["HOME"] and t["required_arguments"] == ["a"]
    assert t["required_arguments_default_values"] == {"a": 5}
    assert t["json_file_option"] == "--json"


def _setup(api: Api, **type_fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    t = api.exec_type(**type_fields)
    return t, api.queue_for(t["id"])


def test_instance_required_fields(api: Api) -> None:
    resp = api.post("executabletaskinstances/", json={})
    assert resp.status_code == 400
    assert resp.json() == {"task_type": ["This field is required."],
                           "task_queue": ["This field is required."]}
    resp = api.post("executabletaskinstances/", data={"task_type": 999999, "task_queue": 999998})
    assert resp.json() == {"task_type": ['Invalid pk "999999" - object does not exist.'],
                           "task_queue": ['Invalid pk "999998" - object does not exist.']}


def test_inactive_or_private_queue_is_an_invalid_pk(api: Api, alice: Api) -> None:
    t = api.exec_type()
    inactive = api.queue_for(t["id"], active=False)
    resp = api.post("executabletaskinstances/", json={"task_type": t["id"],
                                                       "task_queue": inactive["id"]})
    msg = f'Invalid pk "{inactive["id"]}" - object does not exist.'
    assert resp.json() == {"task_queue": [msg]}
    private = api.queue_for(t["id"], private=True)
    resp = alice.post("executabletaskinstances/", data={"task_type": t["id"],
                                                        "task_queue": private["id"]})
    msg = f'Invalid pk "{private["id"]}" - object does not exist.'
    assert resp.json() == {"task_queue": [msg]}
    api.ok("POST", "executabletaskinstances/", 201, json={"task_type": t["id"],
                                                          "task_queue": private["id"]})


def test_queue_kind_and_whitelist_rules(api: Api) -> None:
    t, q = _setup(api)
    noexec = api.queue_for(t["id"], runs_executable_tasks=False)
    resp = api.post("executabletaskinstances/", json={"task_type": t["id"],
                                                      "task_queue": noexec["id"]})
    assert resp.json() == {NF: [f"['Queue {noexec['name']} does not accept executable tasks']"]}
    other = api.exec_type()
    resp = api.post("executabletaskinstances/", json={"task_type": other["id"],
                                                      "task_queue": q["id"]})
    assert resp.json() == {
        NF: [f"['Queue {q['name']} has not whitelisted task type {other['name']}']"]}


def test_arguments_rules(api: Api) -> None:
    t, q = _setup(api, required_arguments=["a", "b"], required_arguments_default_values={"b": 2})
    base = {"task_type": t["id"], "task_queue": q["id"]}
    resp = api.post("executabletaskinstances/", data={**base, "arguments": "{}"})
    assert resp.json() == {NF: ["[\"required argument 'a' not provided!\"]"]}
    resp = api.post("executabletaskinstances/", data={**base, "arguments": "[1, 2]"})
    assert resp.json() == {NF: ["[\"'[1, 2]' is not a valid JSON dictionary!\"]"]}
    resp = api.post("executabletaskinstances/", data={**base, "arguments": "notjson"})
    assert resp.json() == {NF: ["['notjson is not valid JSON!']"]}
    made = api.ok("POST", "executabletaskinstances/", 201,
                  data={**base, "arguments": json.dumps({"a": 1})})
    assert made["arguments"] == {"a": 1, "b": 2}
    made = api.ok("POST", "executabletaskinstances/", 201,
                  json={**base, "arguments": json.dumps({"a": "s"}), "name": "n" * 200})
    assert made["arguments"] == {"a": "s", "b": 2}


def test_read_only_fields_are_ignored_and_name_is_not_unique(api: Api) -> None:
    t, q = _setup(api)
    body = {"task_type": t["id"], "task_queue": q["id"], "name": "same",
            "uuid": str(uuid.uuid4()), "state": "successful", "user": "alice"}
    one = api.ok("POST", "executabletaskinstances/", 201, json=body)
    two = api.ok("POST", "executabletaskinstances/", 201, json=body)
    assert one["uuid"] not in (body["uuid"], two["uuid"])
    assert one["state"] == "created" and one["user"] == "admin"
    resp = api.post("executabletaskinstances/", json={**body, "name": "n" * 201})
    assert resp.json() == {"name": ["Ensure this field has no more than 200 characters."]}


def test_malformed_json_body(api: Api) -> None:
    resp = api.post("taskqueues/", data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("JSON parse error - ")


def test_multipart_form_body(api: Api) -> None:
    files = {"name": (None, f"mp-{uuid.uuid4().hex[:8]}"), "private": (None, "true")}
    q = api.ok("POST", "taskqueues/", 201, files=files)
    assert q["private"] is True and q["active"] is False


def test_json_put_keeps_what_it_leaves_out(api: Api) -> None:
    q = api.ok("POST", "taskqueues/", 201, json={"name": f"k-{uuid.uuid4().hex[:8]}",
                                                 "private": True, "description": "keep"})
    put = api.ok("PUT", f"taskqueues/{q['id']}/", 200, json={"name": q["name"]})
    assert put["private"] is True and put["description"] == "keep"
    t = api.exec_type(json_file_option="--in", environment_variables=["HOME"])
    put = api.ok("PUT", f"executabletasktypes/{t['id']}/", 200,
                 data={"name": t["name"], "command_to_run": "echo"})
    assert put["json_file_option"] == "--in" and put["environment_variables"] == ["HOME"]


def test_unicode_round_trips_as_utf8(api: Api) -> None:
    t = api.exec_type("true", description="déjà vu ✓")
    resp = api.get(f"executabletasktypes/{t['id']}/")
    assert "déjà vu ✓".encode() in resp.content
    assert resp.json()["description"] == "déjà vu ✓"
