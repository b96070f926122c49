"""django-filter behaviour: each filter family and lookup, unknown filters ignored."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api


@pytest.fixture(scope="module")
def data(saltant_server: LocalSaltantServer) -> dict[str, Any]:
    """Instances with known names, states, users, types and queues."""
    api = Api(saltant_server.url, saltant_server.token)
    alice = Api(saltant_server.url, saltant_server.users["alice"])
    tag = "tag" + uuid.uuid4().hex[:8]  # has letters, so tag.upper() != tag
    ok = api.exec_type("true")
    bad = api.exec_type("false")
    q = api.queue_for(ok["id"], bad["id"])
    first = api.run(ok["id"], q["id"], name=f"{tag}-alpha")
    time.sleep(0.01)
    middle = api.run(bad["id"], q["id"], name=f"{tag}-beta")
    time.sleep(0.01)
    last = alice.run(ok["id"], q["id"], name=f"{tag}-gamma")
    for inst in (first, middle, last):
        api.wait(inst["uuid"])
    return {"api": api, "tag": tag, "ok": ok, "bad": bad, "queue": q,
            "first": first, "middle": middle, "last": last}


def names(api: Api, path: str = "executabletaskinstances/", **params: Any) -> list[str]:
    body = api.ok("GET", path, 200, params={"page_size": 1000, **params})
    return sorted(r.get("name") or r.get("username") for r in body["results"])


def test_text_lookups(data: dict[str, Any]) -> None:
    api, tag = data["api"], data["tag"]
    assert names(api, name=f"{tag}-alpha") == [f"{tag}-alpha"]
    assert names(api, name__contains=f"{tag}-") == [f"{tag}-alpha", f"{tag}-beta", f"{tag}-gamma"]
    assert names(api, name__startswith=f"{tag}-b") == [f"{tag}-beta"]
    assert names(api, name__endswith="mma", name__contains=tag) == [f"{tag}-gamma"]
    assert names(api, name__in=f"{tag}-alpha,{tag}-gamma") == [f"{tag}-alpha", f"{tag}-gamma"]
    assert names(api, name__regex=f"^{tag}-(a|g)") == [f"{tag}-alpha", f"{tag}-gamma"]
    assert names(api, name__contains=tag.upper()) == []  # contains is case-sensitive


def test_user_and_state_filters(data: dict[str, Any]) -> None:
    api, tag = data["api"], data["tag"]
    assert names(api, name__contains=tag, user__username="alice") == [f"{tag}-gamma"]
    assert names(api, name__contains=tag, user__username__in="admin") == [
        f"{tag}-alpha", f"{tag}-beta"]
    assert names(api, name__contains=tag, state="failed") == [f"{tag}-beta"]
    assert names(api, name__contains=tag, state__in="failed,successful") == [
        f"{tag}-alpha", f"{tag}-beta", f"{tag}-gamma"]


def test_id_filters(data: dict[str, Any]) -> None:
    api, tag = data["api"], data["tag"]
    assert names(api, task_type=data["bad"]["id"]) == [f"{tag}-beta"]
    both = f"{data['ok']['id']},{data['bad']['id']}"
    assert len(names(api, task_type__in=both)) == 3
    assert len(names(api, task_queue=data["queue"]["id"])) == 3


def test_datetime_lookups(data: dict[str, Any]) -> None:
    api, tag = data["api"], data["tag"]
    created = data["middle"]["datetime_created"]
    assert names(api, name__contains=tag, datetime_created=created) == [f"{tag}-beta"]
    assert names(api, name__contains=tag, datetime_created__lt=created) == [f"{tag}-alpha"]
    assert names(api, name__contains=tag, datetime_created__lte=created) == [
        f"{tag}-alpha", f"{tag}-beta"]
    assert names(api, name__contains=tag, datetime_created__gt=created) == [f"{tag}-gamma"]
    assert len(names(api, name__contains=tag, datetime_created__gte=created)) == 2
    year = created[:4]
    assert len(names(api, name__contains=tag, datetime_created__year=year)) == 3
    assert names(api, name__contains=tag, datetime_created__year=int(year) - 1) == []
    span = f"{data['first']['datetime_created']},{created}"
    assert len(names(api, name__contains=tag, datetime_created__range=span)) == 2
    # Another time zone names the same instant.
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    shifted = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert names(api, name__contains=tag, datetime_created=shifted) == [f"{tag}-beta"]
    assert len(names(api, name__contains=tag, datetime_finished__gte=created)) >= 2


def test_bad_filter_values_are_400(api: Api) -> None:
    resp = api.get("executabletaskinstances/", params={"state": "bogus"})
    assert resp.status_code == 400
    assert resp.json() == {
        "state": ["Select a valid choice. %(value)s is not one of the available choices."]}
    resp = api.get("executabletaskinstances/", params={"datetime_created__gte": "2026-01-01"})
    assert resp.status_code == 400 and "datetime_created__gte" in resp.json()
    assert api.get("executabletaskinstances/",
                   params={"datetime_created__range": "2026-01-01T00:00:00Z"}).status_code == 400
    bad_fk = ["Select a valid choice. That choice is not one of the available choices."]
    for value in ("x", "999999"):
        resp = api.get("executabletaskinstances/", params={"task_type": value})
        assert resp.status_code == 400 and resp.json() == {"task_type": bad_fk}


def test_unknown_filters_are_ignored(data: dict[str, Any]) -> None:
    api = data["api"]
    everything = api.ok("GET", "executabletaskinstances/", 200)["count"]
    for params in ({"uuid": data["first"]["uuid"]}, {"uuid__in": data["first"]["uuid"]},
                   {"user__in": "nobody"}, {"name__icontains": "zzz"}, {"colour": "red"}):
        assert api.ok("GET", "executabletaskinstances/", 200, params=params)["count"] == everything
    blank = api.ok("GET", "executabletaskinstances/", 200, params={"name": ""})
    assert blank["count"] == everything


def test_type_queue_whitelist_user_filters(data: dict[str, Any]) -> None:
    api = data["api"]
    ok = data["ok"]
    found = api.ok("GET", "executabletasktypes/", 200,
                   params={"name": ok["name"], "command_to_run": "true"})
    assert [t["id"] for t in found["results"]] == [ok["id"]]
    assert api.ok("GET", "executabletasktypes/", 200, params={
        "name": ok["name"], "datetime_created__gt": ok["datetime_created"]})["count"] == 0
    q = data["queue"]
    assert names(api, "taskqueues/", name=q["name"], active="true") == [q["name"]]
    assert names(api, "taskqueues/", name=q["name"], active="false") == []
    assert names(api, "taskqueues/", name=q["name"], private="false") == [q["name"]]
    assert names(api, "taskwhitelists/", user__username="admin", name__startswith="wl-")
    assert names(api, "users/", username__in="admin,alice") == ["admin", "alice"]
    assert names(api, "users/", email="nobody@example.com") == []


def test_container_type_filters(api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    for ctype in ("docker", "singularity"):
        api.ok("POST", "containertasktypes/", 201, json={
            "name": f"{tag}-{ctype}", "command_to_run": "run", "container_image": f"img/{tag}",
            "container_type": ctype})
    assert names(api, "containertasktypes/", container_type="singularity",
                 container_image=f"img/{tag}") == [f"{tag}-singularity"]


def test_invalid_regex_is_a_500_page_on_get(api: Api) -> None:
    resp = api.get("executabletaskinstances/", params={"name__regex": "(unclosed"})
    assert resp.status_code == 500 and "text/html" in resp.headers["content-type"]
