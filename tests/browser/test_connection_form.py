"""The saltant connection form in the real Airflow 3.3 UI, driven in headless Chromium.

An Airflow API server (with the UI) runs on loopback with its own AIRFLOW_HOME; Playwright opens
the Add Connection dialog, picks the saltant connection type, and checks what a user sees against
what the provider declares in ``get_provider_info()`` (labels, placeholders, hidden fields, the
extra fields). Then it saves a connection to the local saltant-compatible server and presses
Test. Screenshots go to ``artifacts/browser/``.

Without /usr/bin/chromium (Debian's ``chromium`` package) the tests are skipped, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from saltant_provider.get_provider_info import get_provider_info

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

    from saltant_provider.testing import LocalSaltantServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
API_SERVER_START_TIMEOUT = 180.0
DB_MIGRATE_TIMEOUT = 300.0
UI_TIMEOUT_MS = 30_000

# The standard connection fields of the Airflow 3 form, by the ``name`` of their input.
STANDARD_FIELDS = ("description", "host", "login", "password", "port", "schema")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    """Skip on a developer machine, fail in CI: CI must run the browser test."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser test must run in CI)")
    pytest.skip(reason)


def _require_browser_stack() -> None:
    try:
        import airflow
    except ImportError:  # pragma: no cover - the suite always has Airflow
        _missing("Airflow is not installed")
    major_minor = tuple(int(p) for p in airflow.__version__.split(".")[:2])
    if major_minor < (3, 2):
        pytest.skip(
            f"the browser test drives the Airflow 3.2+ UI; this is Airflow {airflow.__version__}"
        )
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found: install Debian's browser with `apt-get install chromium`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (scripts/bootstrap installs it in .venvs/af3)")


@dataclass(frozen=True)
class SaltantForm:
    """What the provider declares for its connection form."""

    conn_type: str
    hook_name: str
    hidden: list[str]
    relabeling: dict[str, str]
    placeholders: dict[str, str]
    extra_fields: dict[str, dict[str, Any]]


def _declared_form() -> SaltantForm:
    """Read the declaration from the installed package, not from a second copy in this test."""
    info = get_provider_info()
    (entry,) = [c for c in info["connection-types"] if c["connection-type"] == "saltant"]
    behaviour = entry.get("ui-field-behaviour", {})
    return SaltantForm(
        conn_type=entry["connection-type"],
        hook_name=entry.get("hook-name", entry["connection-type"]),
        hidden=list(behaviour.get("hidden-fields", [])),
        relabeling=dict(behaviour.get("relabeling", {})),
        placeholders=dict(behaviour.get("placeholders", {})),
        extra_fields=dict(entry.get("conn-fields", {})),
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class AirflowApiServer:
    url: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes]


def _wait_until_healthy(server: AirflowApiServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health = f"{server.url}/api/v2/monitor/health"
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"airflow api-server exited with {server.process.returncode}; "
                f"log tail:\n{_tail(server.log)}"
            )
        try:
            with urllib.request.urlopen(health, timeout=5) as answer:
                if answer.status == 200:
                    return
                last_error = f"HTTP {answer.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.5)
    raise TimeoutError(
        f"airflow api-server not healthy after {timeout:.0f} s ({last_error}); "
        f"log tail:\n{_tail(server.log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the api-server and its workers (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def airflow_api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowApiServer]:
    """``airflow api-server`` on a free loopback port, with its own AIRFLOW_HOME and database."""
    _require_browser_stack()
    home = tmp_path_factory.mktemp("airflow-api-home")
    (home / "dags").mkdir()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__WORKERS": "1",
        }
    )
    airflow_bin = str(Path(sys.executable).with_name("airflow"))
    log = home / "api-server.log"
    with log.open("wb") as out:
        subprocess.run(
            [airflow_bin, "db", "migrate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=DB_MIGRATE_TIMEOUT,
        )
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [airflow_bin, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = AirflowApiServer(f"http://127.0.0.1:{port}", home, log, process)
    try:
        _wait_until_healthy(server, API_SERVER_START_TIMEOUT)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(airflow_api_server: AirflowApiServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page; when the test fails, its last state is kept as a screenshot."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    finally:
        context.close()


def _screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot to artifacts/browser/, once the UI's animations have ended."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_function(
        """() => document.getAnimations().every(
            (a) => a.playState !== "running"
                || a.effect?.getComputedTiming().iterations === Infinity
        )""",
        timeout=UI_TIMEOUT_MS,
    )
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _open_saltant_form(page: Page, base_url: str, form: SaltantForm, conn_id: str) -> Locator:
    """Open Admin > Connections > Add Connection and choose the saltant type; return the dialog."""
    page.goto(f"{base_url}/connections", timeout=2 * UI_TIMEOUT_MS)
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(conn_id)
    connection_type = dialog.get_by_role("combobox")
    connection_type.click()
    connection_type.fill(form.hook_name)
    page.get_by_role("option", name=form.hook_name, exact=True).click()
    # The standard fields appear once a type is chosen.
    dialog.locator("input[name=host]").wait_for()
    return dialog


def expect_visible(locator: Locator, what: str) -> None:
    try:
        locator.first.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    except Exception as exc:
        raise AssertionError(f"{what} is not visible") from exc


def _label_of(dialog: Locator, field: Locator) -> str:
    field_id = field.get_attribute("id")
    assert field_id, "a form input without an id cannot be matched to its label"
    return dialog.locator(f"label[for='{field_id}']").inner_text().replace("*", "").strip()


def _expand_extra_fields(dialog: Locator) -> None:
    trigger = dialog.get_by_role("button", name="Extra Fields", exact=True)
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()


def _save_connection(page: Page, dialog: Locator) -> None:
    with page.expect_response(
        lambda r: r.url.endswith("/api/v2/connections") and r.request.method == "POST"
    ) as saved:
        dialog.get_by_role("button", name="Save").click()
    assert saved.value.status == 201, f"saving the connection answered {saved.value.status}"
    dialog.wait_for(state="hidden")


def _press_test(page: Page, conn_id: str) -> dict[str, Any]:
    row = page.get_by_role("row").filter(has_text=conn_id)
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as tested:
        row.get_by_role("button", name="Test Connection").click()
    assert tested.value.status == 200, (
        f"Test Connection answered HTTP {tested.value.status}: {tested.value.text()}"
    )
    result: dict[str, Any] = json.loads(tested.value.text())
    return result


def test_saltant_connection_form_shows_what_the_provider_declares(
    page: Page, airflow_api_server: AirflowApiServer
) -> None:
    form = _declared_form()
    dialog = _open_saltant_form(page, airflow_api_server.url, form, "saltant_form_check")

    # Hidden standard fields are not rendered at all; the others are.
    for name in STANDARD_FIELDS:
        count = dialog.locator(f"[name='{name}']").count()
        if name in form.hidden:
            assert count == 0, f"field {name!r} is declared hidden but the form shows it"
        else:
            assert count == 1, f"field {name!r} is not hidden but the form does not show it"

    # Relabelled standard fields carry the provider's label.
    for name, label in form.relabeling.items():
        field = dialog.locator(f"[name='{name}']")
        assert _label_of(dialog, field) == label

    # Placeholders of the visible standard fields.
    for name, placeholder in form.placeholders.items():
        if name in form.hidden or name not in STANDARD_FIELDS:
            continue
        field = dialog.locator(f"[name='{name}']")
        assert field.get_attribute("placeholder") == placeholder, f"placeholder of {name!r}"

    # The password (API token) is typed into a masked input.
    if "password" not in form.hidden:
        assert dialog.locator("[name='password']").get_attribute("type") == "password"

    _screenshot(page, "connection-form-standard-fields.png")

    # The extra fields, under "Extra Fields", with their labels and defaults.
    _expand_extra_fields(dialog)
    for name, spec in form.extra_fields.items():
        label = spec.get("label", name)
        expect_visible(dialog.get_by_text(label, exact=True), f"label of extra field {name!r}")
        if spec.get("description"):
            expect_visible(
                dialog.get_by_text(spec["description"], exact=True),
                f"description of extra field {name!r}",
            )
        schema = spec.get("schema", {})
        types = schema.get("type", [])
        default = schema.get("default")
        if "boolean" in types:
            checkbox = dialog.locator(f"input[type=checkbox][name='element_{name}']")
            assert checkbox.count() == 1, f"extra field {name!r} is not a switch"
            if default is not None:
                assert checkbox.is_checked() == bool(default), f"default of {name!r}"
        elif "integer" in types and default is not None:
            number = dialog.get_by_label(label, exact=True)
            assert number.input_value() == str(default), f"default of {name!r}"

    _screenshot(page, "connection-form-extra-fields.png")


def test_saved_saltant_connection_tests_successfully(
    page: Page, airflow_api_server: AirflowApiServer, saltant_server: LocalSaltantServer
) -> None:
    form = _declared_form()
    conn_id = "saltant_browser"
    dialog = _open_saltant_form(page, airflow_api_server.url, form, conn_id)
    dialog.locator("input[name=host]").fill(saltant_server.url)
    # Save the port explicitly: Airflow 3.3.2's Test button in the list answers 400 for a
    # connection saved without one (apache/airflow#73298).
    dialog.locator("input[name=port]").fill(str(saltant_server.port))
    dialog.locator("input[name=password]").fill(saltant_server.token)
    _screenshot(page, "connection-form-filled.png")
    _save_connection(page, dialog)

    result = _press_test(page, conn_id)
    expect_visible(page.get_by_text("Test Connection Successful"), "the success toast")
    _screenshot(page, "connection-test-result.png")
    assert result.get("status") is True, f"Test Connection failed: {result.get('message')}"
    assert saltant_server.url in str(result.get("message"))


def test_wrong_token_fails_the_test_without_showing_the_token(
    page: Page, airflow_api_server: AirflowApiServer, saltant_server: LocalSaltantServer
) -> None:
    form = _declared_form()
    conn_id = "saltant_wrong_token"
    wrong_token = "0" * 40
    dialog = _open_saltant_form(page, airflow_api_server.url, form, conn_id)
    dialog.locator("input[name=host]").fill(saltant_server.url)
    dialog.locator("input[name=port]").fill(str(saltant_server.port))
    dialog.locator("input[name=password]").fill(wrong_token)
    _save_connection(page, dialog)

    result = _press_test(page, conn_id)
    expect_visible(page.get_by_text("Test Connection Failed"), "the failure toast")
    _screenshot(page, "connection-test-wrong-token.png")
    assert result.get("status") is False
    assert wrong_token not in str(result.get("message"))
    assert wrong_token not in page.content()
