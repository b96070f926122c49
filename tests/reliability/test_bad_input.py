"""Bad input, table-driven: every case gets an error that names what was wrong (and, where the
user can act, what to do), never a bare KeyError/TypeError from deep inside, and a rejected call
creates nothing on the server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from reliability.conftest import FakeTI, Proxy, admin_client, server_counts, unique

pytestmark = pytest.mark.e2e

MISSING = "00000000-0000-4000-8000-000000000000"


@dataclass
class Env:
    server: Any
    client: Any
    demo: dict[str, int]
    make_conn: Callable[..., str]
    monkeypatch: pytest.MonkeyPatch
    objects: dict[str, int]
    proxy: Proxy

    def conn(self, token: str | None = None, url: str | None = None, **extras: Any) -> str:
        return self.make_conn(url or self.server.url, token or self.server.token, **extras)

    def raw_conn(self, value: dict[str, Any]) -> str:
        conn_id = unique("saltant_bad")
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        return conn_id

    def hook(self, conn_id: str) -> Any:
        from saltant_provider.hooks.saltant import SaltantHook

        return SaltantHook(conn_id)

    def run_op(self, conn_id: str | None = None, **kwargs: Any) -> Any:
        """Build and execute the create operator (no wait) like a worker would."""
        from saltant_provider.operators.saltant import SaltantCreateTaskOperator

        kwargs.setdefault("task_type", "airflow-demo-job")
        kwargs.setdefault("task_queue", "airflow-demo")
        op = SaltantCreateTaskOperator(
            task_id="job", saltant_conn_id=conn_id or self.conn(timeout=5, max_tries=2),
            wait_for_completion=False, **kwargs,
        )
        return op.execute({"ti": FakeTI(unique("bad"))})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def objects(rel_client: Any, rel_demo: dict[str, int], rel_server: Any) -> dict[str, int]:
    """A type with a required argument, a type on no whitelist, private and inactive queues."""
    c = rel_client
    needs_a = c.executable_task_types.create(
        name=unique("needs-a"), command_to_run="true", required_arguments=["a"]
    )
    lonely = c.executable_task_types.create(name=unique("lonely"), command_to_run="true")
    wl = c.task_whitelists.create(
        name=unique("wl"),
        whitelisted_executable_task_types=[needs_a.id, rel_demo["airflow-demo-job"]],
    )
    private = c.task_queues.create(name=unique("private"), private=True, whitelists=[wl.id])
    inactive = c.task_queues.create(name=unique("inactive"), active=False, whitelists=[wl.id])
    ok = c.task_queues.create(name=unique("ok"), whitelists=[wl.id])
    return {
        "needs_a": needs_a.id, "lonely": lonely.id, "private": private.id,
        "inactive": inactive.id, "queue": ok.id,
    }


def _slow_html(method: str, path: str, proxy: Proxy) -> Any:
    if "/html500/" in path:
        page = b"<html><head><title>Server Error (500)</title></head><body>oops</body></html>"
        return (500, page)
    if "/slow/" in path:
        return ("delay", 2.5)
    return None


@pytest.fixture
def env(
    rel_server: Any,
    rel_client: Any,
    rel_demo: dict[str, int],
    objects: dict[str, int],
    make_conn: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    airflow_db: Any,
) -> Iterator[Env]:
    with Proxy(rel_server.url, _slow_html) as proxy:
        yield Env(rel_server, rel_client, rel_demo, make_conn, monkeypatch, objects, proxy)


def _proxied_client(env: Env, path: str, **options: Any) -> Any:
    from saltant_provider.client import Client

    return Client(env.proxy.url + path, env.server.token, 1, test_if_authenticated=False, **options)


# Each case: (id, action, words the message must contain, lowercase).
Case = tuple[str, Callable[[Env], Any], tuple[str, ...]]
CASES: list[Case] = [
    # -- the Airflow connection
    ("conn-no-host", lambda e: e.hook(e.raw_conn({"conn_type": "saltant", "password": "x"}))
     .get_conn(), ("has no host", "api url", "https://")),
    ("conn-no-token", lambda e: e.hook(e.raw_conn(
        {"conn_type": "saltant", "host": e.server.url})).get_conn(),
     ("no api token", "password")),
    ("conn-bad-scheme", lambda e: e.hook(e.raw_conn(
        {"conn_type": "saltant", "host": "ftp://127.0.0.1:1/api/", "password": "x"})).get_conn(),
     ("scheme", "http or https", "'ftp'")),
    ("conn-timeout-not-a-number", lambda e: e.hook(e.conn(timeout="soon")).get_conn(),
     ("'timeout'", "seconds", "'soon'")),
    ("conn-max-tries-zero", lambda e: e.hook(e.conn(max_tries=0)).get_conn(),
     ("'max_tries'", "whole number")),
    ("conn-verify-not-bool", lambda e: e.hook(e.conn(verify_ssl="maybe")).get_conn(),
     ("'verify_ssl'", "true or false")),
    ("conn-ca-bundle-missing", lambda e: e.hook(e.conn(ca_bundle="/nonexistent/ca.pem"))
     .get_conn(), ("ca bundle", "/nonexistent/ca.pem", "does not exist")),
    ("conn-wrong-token", lambda e: e.run_op(e.conn(token="0" * 40, max_tries=1)),
     ("403", "invalid token", "check the saltant auth token")),
    ("conn-wrong-api-root", lambda e: _raise_test_connection(e.hook(
        e.conn(url=e.server.root_url + "nope/"))), ("404", "api root")),
    # -- what to run, and where
    ("type-id-unknown", lambda e: e.run_op(task_type=999999),
     ("task_type", "999999", "does not exist")),
    ("type-name-unknown", lambda e: e.run_op(task_type="no-such-type"),
     ("no saltant executable task type named 'no-such-type'", "numeric id")),
    ("queue-id-unknown", lambda e: e.run_op(task_queue=999999),
     ("task_queue", "999999", "does not exist")),
    ("queue-name-unknown", lambda e: e.run_op(task_queue="no-such-queue"),
     ("no saltant task queue named 'no-such-queue'", "create it")),
    ("type-not-whitelisted", lambda e: e.run_op(
        task_type=e.objects["lonely"], task_queue=e.objects["queue"]),
     ("not whitelisted", "lonely")),
    ("queue-private-to-admin", lambda e: e.run_op(
        e.conn(token=e.server.users["alice"]), task_queue=e.objects["private"]),
     ("task_queue", "does not exist")),
    ("queue-inactive", lambda e: e.run_op(task_queue=e.objects["inactive"]),
     ("task_queue", "does not exist")),
    ("required-argument-missing", lambda e: e.run_op(
        task_type=e.objects["needs_a"], task_queue=e.objects["queue"], arguments={"b": 1}),
     ("required argument 'a' not provided",)),
    ("arguments-not-a-dict", lambda e: e.run_op(arguments=[1, 2]),
     ("arguments must be a dict", "list")),
    ("arguments-not-json", lambda e: e.run_op(arguments={"when": object()}),
     ("arguments", "json")),
    ("arguments-key-not-str", lambda e: e.run_op(arguments={1: "x"}),
     ("arguments keys must be strings",)),
    ("task-kind-unknown", lambda e: e.run_op(task_kind="docker"),
     ("task_kind", "'executable'", "'container'", "'docker'")),
    ("task-type-bool", lambda e: e.run_op(task_type=True), ("task_type", "id", "name")),
    ("poll-interval-zero", lambda e: e.run_op(poll_interval=0),
     ("poll_interval", "positive number of seconds")),
    ("client-create-args-not-json", lambda e: e.client.executable_task_instances.create(
        e.demo["airflow-demo-job"], e.demo["airflow-demo"], {"s": {1, 2}}),
     ("arguments", "json")),
    # -- instances
    ("uuid-malformed", lambda e: e.client.executable_task_instances.get("not-a-uuid"),
     ("'not-a-uuid'", "is not a task instance uuid", "af77cca4")),
    ("uuid-malformed-sensor", lambda e: _poke(e, "12345"), ("'12345'", "uuid")),
    ("uuid-missing", lambda e: e.client.executable_task_instances.get(MISSING),
     ("404", MISSING, "not found")),
    ("terminate-missing-empty-405", lambda e: e.client.executable_task_instances.terminate(
        MISSING), ("405", "empty response body", "unknown uuid")),
    ("filter-unknown", lambda e: e.client.executable_task_instances.list({"uuid": MISSING}),
     ("uuid",)),
    ("page-out-of-range", lambda e: e.client.executable_task_instances.list_page(
        None, 100000, 10), ("404", "invalid page")),
    # -- what comes back
    ("html-error-page", lambda e: _proxied_client(e, "html500/", max_tries=1).users.list(),
     ("500", "html error page", "server error (500)")),
    ("request-timeout", lambda e: _proxied_client(e, "slow/", max_tries=1).users.list(),
     ("no http answer", "timeout")),
]


def _raise_test_connection(hook: Any) -> None:
    ok, message = hook.test_connection()
    assert not ok
    raise RuntimeError(message)


def _poke(e: Env, uuid: str) -> Any:
    from saltant_provider.sensors.saltant import SaltantTaskSensor

    sensor = SaltantTaskSensor(task_id="s", task_instance_uuid=uuid, saltant_conn_id=e.conn())
    return sensor.poke({})  # type: ignore[arg-type]


def test_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("action", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error_and_creates_nothing(
    env: Env, action: Callable[[Env], Any], words: tuple[str, ...]
) -> None:
    from saltant_provider._compat import AirflowException
    from saltant_provider.client.exceptions import SaltantError

    counter = admin_client(env.server)
    before = server_counts(counter)
    with pytest.raises(Exception) as caught:
        action(env)
    exc = caught.value
    message = str(exc)
    assert isinstance(exc, (SaltantError, AirflowException, ValueError, RuntimeError)), (
        f"{type(exc).__name__}: {message}"
    )
    assert not isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)), message
    assert "Traceback" not in message
    missing = [w for w in words if w.lower() not in message.lower()]
    assert not missing, f"{type(exc).__name__}: {message!r} lacks {missing}"
    assert len(message) < 1500
    assert server_counts(counter) == before, "a rejected call changed the server"
    counter.close()


@pytest.mark.parametrize("which", ["private", "inactive"])
def test_unusable_queue_error_says_it_may_be_inactive_or_private(env: Env, which: str) -> None:
    # Found as a defect (the server's "does not exist" was passed on as is); fixed in 1db8eea.
    token = env.server.users["alice"] if which == "private" else None
    with pytest.raises(Exception) as caught:
        env.run_op(env.conn(token=token), task_queue=env.objects[which])
    message = str(caught.value).lower()
    assert "inactive" in message and "private" in message, message


def test_sensor_on_a_missing_uuid_says_what_to_check(env: Env) -> None:
    # Found as a defect (a bare "HTTP 404 ... Not found."); fixed in 1db8eea.
    with pytest.raises(Exception) as caught:
        _poke(env, MISSING)
    message = str(caught.value)
    assert MISSING in message and "check" in message.lower(), message
