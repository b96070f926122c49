"""SaltantHook: reading saltant connections given as URI, JSON or form fields, and using them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from saltant_provider.hooks.saltant import (
    SaltantHook,
    SaltantHookConfigError,
    settings_from_connection,
)

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def settings_for(monkeypatch: pytest.MonkeyPatch, value: str, conn_id: str = "s_test") -> Any:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return SaltantHook(conn_id).get_settings()


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        (f"saltant://:{TOKEN}@saltant.example.org/api/", "https://saltant.example.org/api/"),
        (f"saltant://:{TOKEN}@saltant.example.org", "https://saltant.example.org/api/"),
        (
            f"saltant://:{TOKEN}@saltant.example.org:8443/x/api",
            "https://saltant.example.org:8443/x/api/",
        ),
        (f"saltant://:{TOKEN}@127.0.0.1:8765/api/?scheme=http", "http://127.0.0.1:8765/api/"),
        (f"saltant://:{TOKEN}@127.0.0.1:8765/api/?use_https=false", "http://127.0.0.1:8765/api/"),
        (f"saltant://:{TOKEN}@h.example/api/?scheme=https", "https://h.example/api/"),
    ],
)
def test_uri_forms(monkeypatch: pytest.MonkeyPatch, uri: str, url: str) -> None:
    s = settings_for(monkeypatch, uri)
    assert s.base_api_url == url
    assert s.auth_token == TOKEN


def test_uri_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_for(
        monkeypatch,
        f"saltant://:{TOKEN}@h.example/api/?verify_ssl=false&timeout=12.5&max_tries=2",
    )
    assert (s.verify, s.timeout, s.max_tries) == (False, 12.5, 2)


def test_json_with_full_url_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "saltant",
        "host": "http://h.example/api/",
        "port": 9000,
        "password": TOKEN,
    }
    s = settings_for(monkeypatch, json.dumps(conn))
    assert s.base_api_url == "http://h.example:9000/api/"


def test_json_url_port_wins_and_schema_is_path(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "saltant",
        "host": "https://h.example:8443",
        "port": 9000,
        "schema": "saltant/api",
        "password": TOKEN,
        "extra": {"timeout": 5, "max_tries": 3, "verify_ssl": True},
    }
    s = settings_for(monkeypatch, json.dumps(conn))
    assert s.base_api_url == "https://h.example:8443/saltant/api/"
    assert (s.timeout, s.max_tries, s.verify) == (5, 3, True)


def test_form_style_prefixed_extras_and_ca_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not really a cert")
    conn = {
        "conn_type": "saltant",
        "host": "saltant.example.org",
        "password": TOKEN,
        "extra": {"extra__saltant__ca_bundle": str(ca), "extra__saltant__timeout": "7"},
    }
    s = settings_for(monkeypatch, json.dumps(conn))
    assert s.base_api_url == "https://saltant.example.org/api/"
    assert s.verify == str(ca)
    assert s.timeout == 7


@pytest.mark.parametrize(
    ("conn", "words"),
    [
        ({"conn_type": "saltant", "password": TOKEN}, ["no host", "API URL"]),
        ({"conn_type": "saltant", "host": "h.example"}, ["no API token", "password"]),
        ({"conn_type": "saltant", "host": "ftp://h.example/api/", "password": TOKEN}, ["'ftp'"]),
        (
            {
                "conn_type": "saltant",
                "host": "h.example",
                "password": TOKEN,
                "extra": {"scheme": "gopher"},
            },
            ["'gopher'"],
        ),
        (
            {
                "conn_type": "saltant",
                "host": "h.example",
                "password": TOKEN,
                "extra": {"verify_ssl": "maybe"},
            },
            ["verify_ssl"],
        ),
        (
            {
                "conn_type": "saltant",
                "host": "h.example",
                "password": TOKEN,
                "extra": {"timeout": "soon"},
            },
            ["timeout"],
        ),
        (
            {
                "conn_type": "saltant",
                "host": "h.example",
                "password": TOKEN,
                "extra": {"max_tries": 0},
            },
            ["max_tries"],
        ),
        (
            {
                "conn_type": "saltant",
                "host": "h.example",
                "password": TOKEN,
                "extra": {"ca_bundle": "/nonexistent/ca.pem"},
            },
            ["/nonexistent/ca.pem"],
        ),
    ],
)
def test_errors_name_the_connection_and_hide_the_token(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SaltantHookConfigError) as info:
        settings_for(monkeypatch, json.dumps(conn), conn_id="bad_one")
    message = str(info.value)
    assert "'bad_one'" in message
    for word in words:
        assert word in message
    assert TOKEN not in message


def test_token_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings_for(monkeypatch, f"saltant://:{TOKEN}@h.example/api/")
    assert TOKEN not in repr(s)
    assert TOKEN not in repr(SaltantHook("s_test"))


def test_settings_from_plain_object() -> None:
    class Conn:
        conn_id = "plain"
        host = "http://127.0.0.1:1234"
        port = None
        schema = None
        password = TOKEN
        extra_dejson: dict[str, Any] = {}  # noqa: RUF012

    assert settings_from_connection(Conn()).base_api_url == "http://127.0.0.1:1234/api/"


def test_client_is_built_once_and_managers_by_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_S_CACHE", f"saltant://:{TOKEN}@h.example/api/")
    hook = SaltantHook("s_cache")
    client = hook.get_conn()
    assert hook.get_conn() is client
    assert client.base_api_url == "https://h.example/api/"
    assert hook.instances("executable") is client.executable_task_instances
    assert hook.instances("container") is client.container_task_instances
    assert hook.types("container") is client.container_task_types
    assert hook.task_queues is client.task_queues
    with pytest.raises(ValueError, match="task_kind"):
        hook.instances("docker")
    assert hook.front_end_url("af77cca4-8a9a-4366-902b-9615a611be71", "container") == (
        "https://h.example/containertaskinstances/af77cca4-8a9a-4366-902b-9615a611be71/"
    )


async def test_async_client_reads_connection_without_blocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_S_ASYNC", f"saltant://:{TOKEN}@127.0.0.1:1/api/?scheme=http")
    client = await SaltantHook("s_async").get_async_client()
    try:
        assert client.base_api_url == "http://127.0.0.1:1/api/"
    finally:
        await client.aclose()


def test_test_connection_against_local_server(
    monkeypatch: pytest.MonkeyPatch, saltant_server: Any
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_S_LIVE",
        json.dumps(
            {"conn_type": "saltant", "host": saltant_server.url, "password": saltant_server.token}
        ),
    )
    ok, message = SaltantHook("s_live").test_connection()
    assert ok, message
    assert saltant_server.url in message

    monkeypatch.setenv(
        "AIRFLOW_CONN_S_BADTOKEN",
        json.dumps({"conn_type": "saltant", "host": saltant_server.url, "password": TOKEN}),
    )
    ok, message = SaltantHook("s_badtoken").test_connection()
    assert not ok
    assert "403" in message or "uthenticat" in message
    assert TOKEN not in message


def test_test_connection_reports_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_S_NOHOST", json.dumps({"conn_type": "saltant", "password": TOKEN})
    )
    ok, message = SaltantHook("s_nohost").test_connection()
    assert not ok
    assert "no host" in message
