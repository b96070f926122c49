"""SaltantHook: an Airflow connection turned into a saltant client.

The hook is the only place in the provider that reads Airflow connections. Importing this module
is cheap: the client (``requests``) and the async client (``httpx``) are imported inside the
methods that build them, when a task actually runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from saltant_provider._compat import AirflowException, BaseHook
from saltant_provider.hooks import _form

if TYPE_CHECKING:
    from saltant_provider.client import AsyncClient, Client

__all__ = [
    "TASK_KINDS",
    "SaltantConnectionSettings",
    "SaltantHook",
    "SaltantHookConfigError",
    "check_task_kind",
    "settings_from_connection",
]

#: The two classes of saltant task instances.
TASK_KINDS: tuple[str, ...] = ("executable", "container")

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


class SaltantHookConfigError(AirflowException, ValueError):
    """The saltant connection is incomplete or malformed. The message names the connection id."""


def check_task_kind(task_kind: object) -> str:
    """Return ``task_kind`` if it is "executable" or "container"; raise ``ValueError`` otherwise."""
    if not isinstance(task_kind, str) or task_kind not in TASK_KINDS:
        raise ValueError(
            f"task_kind must be one of {', '.join(repr(k) for k in TASK_KINDS)}, got {task_kind!r}"
        )
    return task_kind


@dataclass(frozen=True)
class SaltantConnectionSettings:
    """What the client needs, read from one Airflow connection. The token stays out of repr."""

    conn_id: str
    base_api_url: str
    auth_token: str = field(repr=False)
    timeout: float = _form.DEFAULT_TIMEOUT
    max_tries: int = _form.DEFAULT_MAX_TRIES
    verify: bool | str = True


def _extra(extras: dict[str, Any], name: str) -> Any:
    """An extra by its bare name or the ``extra__saltant__`` prefixed name of older forms."""
    for key in (name, f"extra__{_form.CONN_TYPE}__{name}"):
        value = extras.get(key)
        if value is not None and value != "":
            return value
    return None


def _as_bool(conn_id: str, name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SaltantHookConfigError(
        f"saltant connection {conn_id!r}: extra {name!r} must be true or false, got {value!r}"
    )


def _as_number(conn_id: str, name: str, value: Any, default: float, integer: bool) -> float:
    if value is None:
        return float(default)
    try:
        number = int(str(value)) if integer else float(str(value))
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or not 1 <= number < float("inf"):
        what = "a whole number >= 1" if integer else "a number of seconds >= 1"
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r}: extra {name!r} must be {what}, got {value!r}"
        )
    return number


def settings_from_connection(conn: Any) -> SaltantConnectionSettings:
    """Read an Airflow ``Connection`` of type saltant. Raise ``SaltantHookConfigError`` if unusable.

    URL rules: ``host`` is either a bare host name (``saltant.example.org``) or a full URL
    (``http://127.0.0.1:8000/api/``). A bare host uses https unless the extra ``scheme`` says
    ``http``. ``port`` is added when the URL has none; ``schema`` is the path when the URL has
    none; with neither, the path is ``api/``.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "?")
    host = (getattr(conn, "host", None) or "").strip()
    if not host:
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r} has no host: set it to the saltant API URL, "
            "e.g. https://saltant.example.org/api/"
        )
    token = (getattr(conn, "password", None) or "").strip()
    if not token:
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r} has no API token: put the token of your saltant "
            "user in the connection's password field"
        )
    try:
        extras = dict(conn.extra_dejson or {})
    except Exception as exc:  # malformed extra JSON
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r}: its extra is not a JSON object ({type(exc).__name__})"
        ) from None

    scheme_extra = _extra(extras, "scheme")
    if scheme_extra is None and _extra(extras, "use_https") is not None:
        scheme_extra = (
            "https" if _as_bool(conn_id, "use_https", _extra(extras, "use_https"), True) else "http"
        )
    default_scheme = str(scheme_extra or "https").strip().lower()
    url = host if "://" in host else f"{default_scheme}://{host}"
    try:
        parts = urlsplit(url)
        url_port = parts.port
    except ValueError as exc:
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r}: cannot read the API URL ({exc})"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r}: the API URL scheme must be http or https, "
            f"got {scheme!r}"
        )
    hostname = parts.hostname
    if not hostname:
        raise SaltantHookConfigError(
            f"saltant connection {conn_id!r}: the API URL has no host name"
        )
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    port = url_port if url_port is not None else getattr(conn, "port", None)
    netloc = f"{hostname}:{int(port)}" if port else hostname
    path = parts.path.strip("/")
    if not path:
        path = (getattr(conn, "schema", None) or "").strip().strip("/") or "api"
    base_api_url = f"{scheme}://{netloc}/{path}/"

    verify_ssl = _as_bool(conn_id, "verify_ssl", _extra(extras, "verify_ssl"), True)
    ca_bundle = _extra(extras, "ca_bundle")
    verify: bool | str = verify_ssl
    if verify_ssl and ca_bundle:
        ca_path = os.path.expanduser(str(ca_bundle))
        if not os.path.exists(ca_path):
            raise SaltantHookConfigError(
                f"saltant connection {conn_id!r}: CA bundle {ca_path!r} does not exist"
            )
        verify = ca_path
    timeout = _as_number(
        conn_id, "timeout", _extra(extras, "timeout"), _form.DEFAULT_TIMEOUT, False
    )
    max_tries = int(
        _as_number(conn_id, "max_tries", _extra(extras, "max_tries"), _form.DEFAULT_MAX_TRIES, True)
    )
    return SaltantConnectionSettings(
        conn_id=conn_id,
        base_api_url=base_api_url,
        auth_token=token,
        timeout=timeout,
        max_tries=max_tries,
        verify=verify,
    )


class SaltantHook(BaseHook):
    """Talk to a saltant server through the Airflow connection ``saltant_conn_id``.

    The connection (type ``saltant``):

    - ``host``: the API URL, ``https://saltant.example.org/api/``, or a bare host name.
      A bare host means https; say ``http`` with the extra ``scheme`` (``"scheme": "http"``).
    - ``port`` (optional): used when the URL carries none.
    - ``schema`` (optional): the API path when the URL carries none; default ``api/``.
    - ``password``: the API token of a saltant user.
    - extras: ``verify_ssl`` (default true), ``ca_bundle`` (PEM path), ``timeout`` (seconds per
      request, default 90), ``max_tries`` (per request, default 5), ``scheme`` (http or https;
      ``use_https=false`` means the same as ``scheme=http``).

    As a URI (e.g. ``AIRFLOW_CONN_SALTANT_DEFAULT``)::

        saltant://:TOKEN@saltant.example.org/api/                      # https
        saltant://:TOKEN@127.0.0.1:8000/api/?scheme=http&timeout=30    # http, port 8000

    or as JSON: ``{"conn_type": "saltant", "host": "http://127.0.0.1:8000/api/",
    "password": "TOKEN"}``.
    """

    conn_name_attr = "saltant_conn_id"
    default_conn_name = _form.DEFAULT_CONN_ID
    conn_type = _form.CONN_TYPE
    hook_name = _form.HOOK_NAME

    def __init__(self, saltant_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.saltant_conn_id = saltant_conn_id
        self._settings: SaltantConnectionSettings | None = None
        self._client: Client | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(saltant_conn_id={self.saltant_conn_id!r})"

    # -- the connection form (Airflow 2.x and 3.0/3.1; 3.2+ reads get_provider_info) --

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (wtforms, imported here only)."""
        return _form.form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form."""
        return _form.ui_field_behaviour()

    # -- the connection --

    def get_settings(self) -> SaltantConnectionSettings:
        """Read the connection once (synchronously) and keep what the client needs."""
        if self._settings is None:
            self._settings = settings_from_connection(self.get_connection(self.saltant_conn_id))
        return self._settings

    async def aget_settings(self) -> SaltantConnectionSettings:
        """Read the connection without blocking the event loop (for triggers)."""
        if self._settings is None:
            aget = getattr(BaseHook, "aget_connection", None)
            if aget is not None:  # Airflow 3.x
                conn = await aget(self.saltant_conn_id)
            else:  # Airflow 2.x
                from asgiref.sync import sync_to_async

                conn = await sync_to_async(BaseHook.get_connection)(self.saltant_conn_id)
            self._settings = settings_from_connection(conn)
        return self._settings

    # -- clients --

    def get_conn(self) -> Client:
        """The saltant client for this connection, built once and cached on the hook."""
        if self._client is None:
            from saltant_provider.client import Client

            s = self.get_settings()
            self._client = Client(
                s.base_api_url,
                s.auth_token,
                s.timeout,
                test_if_authenticated=False,
                verify=s.verify,
                max_tries=s.max_tries,
            )
        return self._client

    @property
    def client(self) -> Client:
        return self.get_conn()

    async def get_async_client(self) -> AsyncClient:
        """A new async client for this connection (use ``async with``); never blocks the loop."""
        from saltant_provider.client import AsyncClient

        s = await self.aget_settings()
        return AsyncClient(
            s.base_api_url, s.auth_token, s.timeout, verify=s.verify, max_tries=s.max_tries
        )

    def instances(self, task_kind: str = "executable") -> Any:
        """The executable or container task instance manager."""
        client = self.get_conn()
        if check_task_kind(task_kind) == "executable":
            return client.executable_task_instances
        return client.container_task_instances

    def types(self, task_kind: str = "executable") -> Any:
        """The executable or container task type manager."""
        client = self.get_conn()
        if check_task_kind(task_kind) == "executable":
            return client.executable_task_types
        return client.container_task_types

    @property
    def task_queues(self) -> Any:
        return self.get_conn().task_queues

    def front_end_url(self, uuid: str, task_kind: str = "executable") -> str:
        """The page of one task instance in the saltant front end."""
        return str(self.instances(task_kind).front_end_url(uuid))

    def test_connection(self) -> tuple[bool, str]:
        """Check URL and token with one GET (``users/``). The message never holds the token."""
        try:
            settings = self.get_settings()
            client = self.get_conn()
            client.test_authentication()
        except Exception as exc:
            message = str(exc)
            if self._settings is not None and self._settings.auth_token:
                message = message.replace(self._settings.auth_token, "***")
            lowered = message.lower()
            if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
                message += (
                    f" (connection {self.saltant_conn_id!r}: set its extra ca_bundle to the path"
                    " of a PEM file holding the server's CA, or verify_ssl to false for a test"
                    " server)"
                )
            return False, f"{type(exc).__name__}: {message}"
        return True, f"Connected to saltant at {settings.base_api_url}"
