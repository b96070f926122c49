"""DRF page-number pagination: default sizes, page_size, links, out-of-range 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api


@pytest.fixture(scope="module")
def filled(saltant_server: LocalSaltantServer) -> dict[str, Any]:
    """25 instances of one type (on the shared server), isolated by a task_type filter."""
    api = Api(saltant_server.url, saltant_server.token)
    t = api.exec_type()
    q = api.queue_for(t["id"])
    made = [api.run(t["id"], q["id"], name=f"n{i}")["uuid"] for i in range(25)]
    return {"api": api, "type": t["id"], "made": made}


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_instances_default_to_10_per_page_newest_first(filled: dict[str, Any]) -> None:
    api: Api = filled["api"]
    page = api.ok("GET", "executabletaskinstances/", 200, params={"task_type": filled["type"]})
    assert page["count"] == 25 and len(page["results"]) == 10
    assert [r["uuid"] for r in page["results"]] == filled["made"][::-1][:10]
    assert page["previous"] is None
    assert page["next"].startswith(api.base + "executabletaskinstances/?")
    assert _query(page["next"]) == {"page": ["2"], "task_type": [str(filled["type"])]}


def test_following_next_and_previous_links(filled: dict[str, Any]) -> None:
    api: Api = filled["api"]
    seen: list[str] = []
    url: str | None = api.url(f"executabletaskinstances/?task_type={filled['type']}&page_size=7")
    pages = []
    while url:
        body = api.session.get(url, timeout=10).json()
        pages.append(body)
        seen += [r["uuid"] for r in body["results"]]
        url = body["next"]
    assert seen == filled["made"][::-1] and len(pages) == 4
    assert "page" not in _query(pages[1]["previous"])  # DRF drops page=1
    assert _query(pages[3]["previous"])["page"] == ["3"]


def test_page_size_zero_or_bad_falls_back_and_next_keeps_it(filled: dict[str, Any]) -> None:
    api: Api = filled["api"]
    for size in ("0", "-3", "abc"):
        page = api.ok("GET", "executabletaskinstances/", 200,
                      params={"task_type": filled["type"], "page_size": size})
        assert len(page["results"]) == 10
        assert _query(page["next"])["page_size"] == [size]


def test_out_of_range_and_bad_pages_are_404(filled: dict[str, Any]) -> None:
    api: Api = filled["api"]
    for page in ("4", "0", "-1", "x"):
        resp = api.get("executabletaskinstances/", params={"task_type": filled["type"],
                                                             "page": page})
        assert resp.status_code == 404, page
        assert resp.json() == {"detail": "Invalid page."}
    last = api.ok("GET", "executabletaskinstances/", 200,
                  params={"task_type": filled["type"], "page": "last"})
    assert len(last["results"]) == 5 and last["next"] is None


def test_empty_list_has_a_first_page(api: Api) -> None:
    page = api.ok("GET", "executabletaskinstances/", 200, params={"name": "no-such-name-x"})
    assert page == {"count": 0, "next": None, "previous": None, "results": []}
    assert api.get("executabletaskinstances/", params={"name": "no-such-name-x",
                                                        "page": 2}).status_code == 404


def test_saltant_py_everything_at_once(filled: dict[str, Any]) -> None:
    api: Api = filled["api"]
    page = api.ok("GET", "executabletaskinstances/", 200, params={
        "task_type": filled["type"], "page": 1, "page_size": 9223372036854775807})
    assert len(page["results"]) == 25 and page["next"] is None


def test_other_lists_default_to_100_in_id_order(
    saltant_server_factory: Callable[..., LocalSaltantServer],
) -> None:
    server = saltant_server_factory(no_worker=True)
    api = Api(server.url, server.token)
    ids = [api.exec_type()["id"] for _ in range(105)]
    page = api.ok("GET", "executabletasktypes/", 200)
    assert page["count"] == 105 and [t["id"] for t in page["results"]] == ids[:100]
    assert _query(page["next"]) == {"page": ["2"]}
    second = api.ok("GET", page["next"].replace(server.url, ""), 200)
    assert [t["id"] for t in second["results"]] == ids[100:]
    assert second["previous"] == server.url + "executabletasktypes/"
