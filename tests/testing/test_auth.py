"""Authentication: 403 (not 401) bodies, token keyword, JWT issue/refresh/use."""

from __future__ import annotations

import requests

from saltant_provider.testing import LocalSaltantServer

from .conftest import Api


def test_no_credentials_is_403(anon: Api) -> None:
    resp = anon.get("users/")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Authentication credentials were not provided."}


def test_bad_token_is_403(saltant_server: LocalSaltantServer) -> None:
    resp = Api(saltant_server.url, "f" * 40).get("users/")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Invalid token."}


def test_every_endpoint_needs_auth(anon: Api) -> None:
    for path in ("", "executabletaskinstances/", "containertasktypes/", "taskqueues/",
                 "taskwhitelists/", "users/admin/"):
        assert anon.get(path).status_code == 403, path


def test_token_keyword_is_case_insensitive(saltant_server: LocalSaltantServer) -> None:
    for keyword in ("token", "TOKEN", "Token"):
        resp = requests.get(saltant_server.url + "users/", timeout=10,
                            headers={"Authorization": f"{keyword} {saltant_server.token}"})
        assert resp.status_code == 200, keyword


def test_malformed_token_headers(saltant_server: LocalSaltantServer) -> None:
    url = saltant_server.url + "users/"
    resp = requests.get(url, headers={"Authorization": "Token"}, timeout=10)
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Invalid token header. No credentials provided."}
    resp = requests.get(url, headers={"Authorization": "Token a b"}, timeout=10)
    assert resp.json()["detail"].startswith("Invalid token header.")
    resp = requests.get(url, headers={"Authorization": "Basic abc"}, timeout=10)
    assert resp.json() == {"detail": "Authentication credentials were not provided."}


def test_extra_user_is_not_admin(alice: Api) -> None:
    assert alice.get("users/alice/").json() == {"username": "alice", "email": ""}


def test_jwt_issue_refresh_and_use(saltant_server: LocalSaltantServer, anon: Api) -> None:
    pair = anon.ok("POST", "token/", 200, json={"username": "admin", "password": "admin"})
    assert set(pair) == {"refresh", "access"}
    bearer = {"Authorization": f"Bearer {pair['access']}"}
    assert requests.get(saltant_server.url + "users/", headers=bearer, timeout=10).ok
    fresh = anon.ok("POST", "token/refresh/", 200, data={"refresh": pair["refresh"]})
    assert set(fresh) == {"access"}
    bearer = {"Authorization": f"Bearer {fresh['access']}"}
    assert requests.get(saltant_server.url + "users", headers=bearer, timeout=10).ok


def test_jwt_failures(saltant_server: LocalSaltantServer, anon: Api) -> None:
    resp = anon.post("token/", json={"username": "admin", "password": "wrong"})
    assert resp.status_code == 401
    resp = anon.post("token/", json={"username": "admin"})
    assert resp.status_code == 400 and resp.json() == {"password": ["This field is required."]}
    resp = anon.post("token/refresh/", json={"refresh": "not.a.token"})
    assert resp.status_code == 401
    pair = anon.ok("POST", "token/", 200, json={"username": "alice", "password": "alice"})
    # A refresh token is not an access token.
    headers = {"Authorization": f"Bearer {pair['refresh']}"}
    resp = requests.get(saltant_server.url + "users/", headers=headers, timeout=10)
    assert resp.status_code == 403
    assert anon.get("token/").status_code == 405
