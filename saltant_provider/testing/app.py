"""Routes and handlers of the local saltant-compatible server (an ASGI app on starlette).

Routing is done by hand on path segments so that every route takes an optional trailing
slash and the order of checks is the real server's: unknown route (404 page), then
authentication (403), then method (405), then object lookup (404), then permissions (403),
then validation (400).
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import filters as flt
from .auth import Authenticator, AuthError
from .bodies import NOT_NULL, REQUIRED, ApiError, Body, Fields, as_pk, invalid, non_field
from .store import (
    INSTANCE_TABLES,
    TYPE_TABLES,
    Store,
    check_password,
    instance_json,
    now_dt,
    queue_json,
    type_json,
    user_json,
    whitelist_json,
)
from .worker import Worker

log = logging.getLogger("saltant_provider.testing.app")

INSTANCE_ROUTES = {"executabletaskinstances": "executable", "containertaskinstances": "container"}
TYPE_ROUTES = {"executabletasktypes": "executable", "containertasktypes": "container"}
ROOT_ROUTES = (
    "users",
    "containertaskinstances",
    "containertasktypes",
    "executabletaskinstances",
    "executabletasktypes",
    "taskqueues",
    "taskwhitelists",
)
TERMINAL = ("successful", "failed", "terminated")
NO_PERMISSION = "You do not have permission to perform this action."
NO_ACCOUNT = "No active account found with the given credentials"
BAD_REFRESH = "Token is invalid or expired"
QUEUE_NAME = re.compile(r"^[\w@+-]+$")
PAGE_404 = (
    "<!doctype html><html lang=\"en\"><head><title>Not Found</title></head><body>"
    "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    "</body></html>"
)
PAGE_500 = (
    "<!doctype html><html lang=\"en\"><head><title>Server Error (500)</title></head><body>"
    "<h1>Server Error (500)</h1><p></p></body></html>"
)


class Unhandled(Exception):
    """What the real server hits as an unhandled error (e.g. clone of an unknown uuid)."""


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        # DRF's defaults: compact separators, UTF-8 rather than \u escapes.
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status_code=status,
        media_type="application/json",
    )


def replace_query_param(url: str, key: str, value: int | None) -> str:
    """DRF's link building: parameters sorted, ``page`` replaced or removed."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    if value is None:
        params.pop(key, None)
    else:
        params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True),
                       fragment))


# -- the application ---------------------------------------------------------------------
Handler = Callable[..., Awaitable[Response]]


class SaltantApp:
    """The ASGI application: lifespan (worker start/stop) and the saltant API."""

    def __init__(self, store: Store, worker: Worker) -> None:
        self.store = store
        self.worker = worker
        self.auth = Authenticator(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.worker.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.worker.shutdown()
                self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, request: Request) -> Response:
        method = request.method
        try:
            return await self._dispatch(request, method)
        except ApiError as exc:
            if exc.body is None or method == "HEAD":
                return Response(b"", status_code=exc.status)
            return json_response(exc.body, exc.status)
        except Exception as exc:
            # Production mode: an unhandled error is a 405 with an empty body during a
            # POST, a 500 HTML page otherwise.
            if isinstance(exc, ClientDisconnect):
                log.debug("client left before its request body arrived: %s", request.url.path)
            elif not isinstance(exc, Unhandled):
                log.exception("unhandled error in %s %s", method, request.url.path)
            if method == "POST":
                return Response(b"", status_code=405)
            return Response(PAGE_500, status_code=500, media_type="text/html")

    # -- dispatch ----------------------------------------------------------------------------
    async def _dispatch(self, request: Request, method: str) -> Response:
        path = request.url.path
        if not (path == "/api" or path.startswith("/api/")):
            return self._front_end(path, method)
        segs = [s for s in path[4:].split("/") if s]
        if segs in (["token"], ["token", "refresh"]):
            self._allow(method, ("POST",))
            return await self._jwt(request, segs)
        route = self._route(segs)
        if route is None:
            return Response(PAGE_404, status_code=404, media_type="text/html")
        methods, handler = route
        try:
            user = self.auth.authenticate(request.headers.get("authorization"))
        except AuthError as exc:
            raise ApiError(403, exc.body) from None
        self._allow(method, methods)
        return await handler(request, user)

    @staticmethod
    def _allow(method: str, methods: tuple[str, ...]) -> None:
        if method not in methods:
            raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})

    def _route(self, segs: list[str]) -> tuple[tuple[str, ...], Handler] | None:
        """(allowed methods, handler bound to the path arguments) for a path, or None."""
        n = len(segs)
        if n == 0:
            return ("GET",), self._api_root
        head = segs[0]
        if head == "users" and n <= 2:
            if n == 1:
                return ("GET",), self._list_users
            return ("GET",), lambda r, u: self._get_user(segs[1])
        if head in INSTANCE_ROUTES and n <= 3:
            kind = INSTANCE_ROUTES[head]
            if n == 1:
                return ("GET", "POST"), lambda r, u: self._instances(r, u, kind)
            if n == 2:
                return ("GET",), lambda r, u: self._get_instance(kind, segs[1])
            if segs[2] == "clone":
                return ("POST",), lambda r, u: self._clone(kind, segs[1], u)
            if segs[2] == "terminate":
                return ("POST",), lambda r, u: self._terminate(kind, segs[1], u)
            return None
        if head in TYPE_ROUTES and n <= 2:
            kind = TYPE_ROUTES[head]
            if n == 1:
                return ("GET", "POST"), lambda r, u: self._types(r, u, kind)
            return ("GET", "PUT"), lambda r, u: self._type_detail(r, u, kind, segs[1])
        if head in ("taskqueues", "taskwhitelists") and n <= 2:
            table = "task_queues" if head == "taskqueues" else "task_whitelists"
            if n == 1:
                return ("GET", "POST"), lambda r, u: self._collection(r, u, table)
            return ("GET", "PUT", "PATCH"), lambda r, u: self._detail(r, u, table, segs[1])
        if head == "updatetaskinstancestatus" and n == 2:
            return ("PATCH",), lambda r, u: self._update_status(r, u, segs[1])
        return None

    # -- front end and JWT -------------------------------------------------------------------
    def _front_end(self, path: str, method: str) -> Response:
        """Minimal stand-ins for the browser pages an Airflow extra link opens (no login)."""
        segs = [s for s in path.split("/") if s]
        if method in ("GET", "HEAD") and len(segs) == 2 and segs[0] in INSTANCE_ROUTES:
            row = self.store.get(INSTANCE_TABLES[INSTANCE_ROUTES[segs[0]]], "uuid", segs[1])
            if row is not None:
                html = (
                    f"<!doctype html><html><head><title>Task instance {row['uuid']}</title>"
                    f"</head><body><h1>Task instance {row['uuid']}</h1>"
                    f"<p>State: <span id=\"state\">{row['state']}</span></p></body></html>"
                )
                return Response(html, media_type="text/html")
        if method in ("GET", "HEAD") and not segs:
            return Response("<!doctype html><html><body><h1>saltant (local)</h1></body></html>",
                            media_type="text/html")
        return Response(PAGE_404, status_code=404, media_type="text/html")

    async def _jwt(self, request: Request, segs: list[str]) -> Response:
        body = await Body.read(request)
        if segs == ["token"]:
            missing = {k: [REQUIRED] for k in ("username", "password") if not body.get(k)}
            if missing:
                raise invalid(missing)
            row = self.store.get("users", "username", str(body.get("username")))
            if row is None or not check_password(str(body.get("password")), row["password"]):
                raise ApiError(401, {"detail": NO_ACCOUNT})
            return json_response(self.auth.issue(row["username"]))
        if not body.get("refresh"):
            raise invalid({"refresh": [REQUIRED]})
        access = self.auth.refresh(str(body.get("refresh")))
        if access is None:
            raise ApiError(401, {"detail": BAD_REFRESH, "code": "token_not_valid"})
        return json_response({"access": access})

    # -- listing -----------------------------------------------------------------------------
    def _paginate(
        self,
        request: Request,
        table: str,
        fields: dict[str, tuple[str, str]],
        order: str,
        default_size: int,
        shape: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Response:
        params = request.query_params
        try:
            where, args = flt.build_where(fields, params, self._fk_exists(table))
        except flt.FilterError as exc:
            raise invalid(exc.errors) from None
        size = default_size
        try:
            asked = int(params.get("page_size", ""))
            if asked > 0:
                size = asked
        except ValueError:
            pass
        count = self.store.count(table, where, args)
        num_pages = math.ceil(max(count, 1) / size)
        raw_page = params.get("page", "1")
        try:
            page = num_pages if raw_page == "last" else int(raw_page)
        except ValueError:
            raise ApiError(404, {"detail": "Invalid page."}) from None
        if page < 1 or page > num_pages:
            raise ApiError(404, {"detail": "Invalid page."})
        limit = min(size, 2**62)
        rows = self.store.page(table, where, args, order, limit, min((page - 1) * limit, 2**62))
        url = str(request.url)
        nxt = replace_query_param(url, "page", page + 1) if page < num_pages else None
        prev = None
        if page > 1:
            prev = replace_query_param(url, "page", None if page == 2 else page - 1)
        return json_response(
            {"count": count, "next": nxt, "previous": prev, "results": [shape(r) for r in rows]}
        )

    def _fk_exists(self, table: str) -> Callable[[str, int], bool]:
        kind = "container" if table.startswith("container") else "executable"
        targets = {"task_type": TYPE_TABLES[kind], "task_queue": "task_queues"}
        return lambda column, pk: self.store.exists(targets[column], "id", pk)

    async def _api_root(self, request: Request, user: dict[str, Any]) -> Response:
        base = str(request.url.replace(query="")).rstrip("/") + "/"
        return json_response({name: f"{base}{name}/" for name in ROOT_ROUTES})

    # -- users -------------------------------------------------------------------------------
    async def _list_users(self, request: Request, user: dict[str, Any]) -> Response:
        return self._paginate(request, "users", flt.UserFields, "username", 100, user_json)

    async def _get_user(self, username: str) -> Response:
        row = self.store.get("users", "username", username)
        if row is None:
            raise ApiError(404, {"detail": "Not found."})
        return json_response(user_json(row))

    # -- task instances ----------------------------------------------------------------------
    def _instance(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            uuidlib.UUID(key)
        except ValueError:
            return None
        return self.store.get(INSTANCE_TABLES[kind], "uuid", key.lower())

    async def _get_instance(self, kind: str, key: str) -> Response:
        row = self._instance(kind, key)
        if row is None:
            raise ApiError(404, {"detail": "Not found."})
        return json_response(instance_json(row))

    async def _instances(self, request: Request, user: dict[str, Any], kind: str) -> Response:
        table = INSTANCE_TABLES[kind]
        if request.method == "GET":
            order = "datetime_created DESC, seq DESC"
            return self._paginate(request, table, flt.InstanceFields, order, 10, instance_json)
        body = await Body.read(request)
        values = self._validate_instance(kind, body, user)
        return self._create_instance(kind, values)

    def _create_instance(self, kind: str, values: dict[str, Any]) -> Response:
        row = {
            "uuid": str(uuidlib.uuid4()),
            "state": "created",
            "datetime_created": now_dt(),
            "datetime_finished": None,
            **values,
        }
        self.store.insert(INSTANCE_TABLES[kind], row)
        self.worker.publish(kind, row["uuid"])
        return json_response(instance_json(row), 201)

    def _validate_instance(self, kind: str, body: Body, user: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        refs: dict[str, dict[str, Any]] = {}
        for key, table in (("task_type", TYPE_TABLES[kind]), ("task_queue", "task_queues")):
            raw = body.get(key)
            if not body.has(key):
                errors[key] = [REQUIRED]
                continue
            if raw is None or raw == "":
                errors[key] = [NOT_NULL]
                continue
            pk = as_pk(raw)
            if pk is None:
                errors[key] = [f"Incorrect type. Expected pk value, received {type(raw).__name__}."]
                continue
            row = self.store.get(table, "id", pk)
            if key == "task_queue" and row is not None:
                private_to_other = row["private"] and row["user"] != user["username"]
                if not row["active"] or private_to_other:
                    row = None
            if row is None:
                errors[key] = [f'Invalid pk "{raw}" - object does not exist.']
                continue
            refs[key] = row
        fields = Fields(body, partial=False)
        fields.char("name", 200)
        errors.update(fields.errors)
        if errors:
            raise invalid(errors)
        ttype, queue = refs["task_type"], refs["task_queue"]
        arguments = self._arguments(body)
        if kind == "executable" and not queue["runs_executable_tasks"]:
            raise non_field(f"Queue {queue['name']} does not accept executable tasks")
        if kind == "container":
            ctype = ttype["container_type"]
            if not queue[f"runs_{ctype}_container_tasks"]:
                raise non_field(f"Queue {queue['name']} does not accept {ctype} container tasks")
        if not self._whitelisted(queue, kind, ttype["id"]):
            raise non_field(
                f"Queue {queue['name']} has not whitelisted task type {ttype['name']}")
        for name, value in ttype["required_arguments_default_values"].items():
            arguments.setdefault(name, value)
        for name in ttype["required_arguments"]:
            if name not in arguments:
                raise non_field(f"required argument '{name}' not provided!")
        return {
            "user": user["username"],
            "name": fields.values.get("name", ""),
            "arguments": arguments,
            "task_type": ttype["id"],
            "task_queue": queue["id"],
        }

    @staticmethod
    def _arguments(body: Body) -> dict[str, Any]:
        raw = body.get("arguments")
        if raw is None or raw == "":
            return {}
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                raise non_field(f"{raw} is not valid JSON!") from None
        if not isinstance(value, dict):
            text = raw if isinstance(raw, str) else json.dumps(raw)
            raise non_field(f"'{text}' is not a valid JSON dictionary!")
        return dict(value)

    def _whitelisted(self, queue: dict[str, Any], kind: str, type_id: int) -> bool:
        key = f"whitelisted_{kind}_task_types"
        for wl_id in queue["whitelists"]:
            wl = self.store.get("task_whitelists", "id", wl_id)
            if wl is not None and type_id in wl[key]:
                return True
        return False

    async def _clone(self, kind: str, key: str, user: dict[str, Any]) -> Response:
        src = self._instance(kind, key)
        if src is None:
            raise Unhandled(f"clone of unknown {kind} task instance")
        values = {k: src[k] for k in ("name", "arguments", "task_type", "task_queue")}
        return self._create_instance(kind, {**values, "user": user["username"]})

    async def _terminate(self, kind: str, key: str, user: dict[str, Any]) -> Response:
        row = self._instance(kind, key)
        if row is None:
            raise Unhandled(f"terminate of unknown {kind} task instance")
        # No ownership check: like clone, the real action looks the instance up itself
        # (hence the 405 for an unknown uuid) instead of through DRF's object permissions.
        if row["state"] not in TERMINAL:
            self.worker.terminate(kind, row["uuid"])
        return json_response(instance_json(row), 202)

    async def _update_status(self, request: Request, user: dict[str, Any], key: str) -> Response:
        found = [(k, r) for k in INSTANCE_TABLES if (r := self._instance(k, key)) is not None]
        if not found:
            raise ApiError(404, {"detail": "Not found."})
        kind, row = found[0]
        if row["user"] != user["username"] and not user["is_superuser"]:
            raise ApiError(403, {"detail": NO_PERMISSION})
        body = await Body.read(request)
        state = body.get("state")
        if state is None:
            raise invalid({"state": [REQUIRED]})
        if state not in flt.STATES:
            raise invalid({"state": [f'"{state}" is not a valid choice.']})
        values: dict[str, Any] = {"state": state}
        if state in ("successful", "failed"):
            values["datetime_finished"] = now_dt()
        self.store.update(INSTANCE_TABLES[kind], "uuid", row["uuid"], values)
        return json_response({"uuid": row["uuid"], "state": state})

    # -- task types --------------------------------------------------------------------------
    async def _types(self, request: Request, user: dict[str, Any], kind: str) -> Response:
        table = TYPE_TABLES[kind]
        if request.method == "GET":
            fields = flt.TypeFields if kind == "executable" else flt.ContainerTypeFields
            return self._paginate(request, table, fields, "id", 100,
                                  lambda r: type_json(r, kind))
        values = self._validate_type(kind, await Body.read(request), None)
        values.update(user=user["username"], datetime_created=now_dt())
        new_id = self.store.insert(table, values)
        row = self.store.get(table, "id", new_id)
        assert row is not None
        return json_response(type_json(row, kind), 201)

    def _object(self, table: str, key: str) -> dict[str, Any]:
        pk = as_pk(key)
        row = self.store.get(table, "id", pk) if pk is not None else None
        if row is None:
            raise ApiError(404, {"detail": "Not found."})
        return row

    @staticmethod
    def _check_owner(row: dict[str, Any], user: dict[str, Any]) -> None:
        if row["user"] != user["username"] and not user["is_superuser"]:
            raise ApiError(403, {"detail": NO_PERMISSION})

    async def _type_detail(
        self, request: Request, user: dict[str, Any], kind: str, key: str
    ) -> Response:
        table = TYPE_TABLES[kind]
        row = self._object(table, key)
        if request.method == "GET":
            return json_response(type_json(row, kind))
        self._check_owner(row, user)
        values = self._validate_type(kind, await Body.read(request), row["id"])
        values["user"] = user["username"]  # the writer becomes the owner, as on saltant
        self.store.update(table, "id", row["id"], values)
        updated = self.store.get(table, "id", row["id"])
        assert updated is not None
        return json_response(type_json(updated, kind))

    def _validate_type(self, kind: str, body: Body, own_id: int | None) -> dict[str, Any]:
        f = Fields(body, partial=False, update=own_id is not None)
        f.char("name", 200, required=True, blank=False)
        f.char("description", None)
        f.char("command_to_run", 400, required=True, blank=False)
        f.json_value("environment_variables", list, [])
        f.json_value("required_arguments", list, [])
        f.json_value("required_arguments_default_values", dict, {})
        if kind == "executable":
            f.char("json_file_option", 200, null=True, default=None)
        else:
            f.char("logs_path", 400, null=True, default=None)
            f.char("results_path", 400, null=True, default=None)
            f.char("container_image", 200, required=True, blank=False)
            f.char("container_type", None, required=True, blank=False)
            ctype = f.values.get("container_type")
            if ctype is not None and ctype not in ("docker", "singularity"):
                f.errors["container_type"] = [f'"{ctype}" is not a valid choice.']
        name = f.values.get("name")
        if name is not None:
            clash = self.store.get(TYPE_TABLES[kind], "name", name)
            if clash is not None and clash["id"] != own_id:
                f.errors["name"] = [f"{kind} task type with this name already exists."]
        f.raise_if_errors()
        required = f.values.get("required_arguments", [])
        defaults = f.values.get("required_arguments_default_values", {})
        if not set(defaults) <= set(required):
            raise non_field("default arguments not a subset of required arguments")
        return f.values

    # -- queues and whitelists ---------------------------------------------------------------
    async def _collection(self, request: Request, user: dict[str, Any], table: str) -> Response:
        shape = queue_json if table == "task_queues" else whitelist_json
        if request.method == "GET":
            fields = flt.QueueFields if table == "task_queues" else flt.WhitelistFields
            return self._paginate(request, table, fields, "id", 100, shape)
        values = self._validate_group(table, await Body.read(request), None)
        values["user"] = user["username"]
        new_id = self.store.insert(table, values)
        row = self.store.get(table, "id", new_id)
        assert row is not None
        return json_response(shape(row), 201)

    async def _detail(
        self, request: Request, user: dict[str, Any], table: str, key: str
    ) -> Response:
        shape = queue_json if table == "task_queues" else whitelist_json
        row = self._object(table, key)
        if request.method == "GET":
            return json_response(shape(row))
        self._check_owner(row, user)
        body = await Body.read(request)
        values = self._validate_group(table, body, row["id"], partial=request.method == "PATCH")
        values["user"] = user["username"]
        self.store.update(table, "id", row["id"], values)
        updated = self.store.get(table, "id", row["id"])
        assert updated is not None
        if table == "task_queues" and updated["active"] and not row["active"]:
            self.worker.queue_activated(row["id"])
        return json_response(shape(updated))

    def _validate_group(
        self, table: str, body: Body, own_id: int | None, partial: bool = False
    ) -> dict[str, Any]:
        """Validation of a task queue or whitelist body."""
        f = Fields(body, partial, update=own_id is not None)
        f.char("name", 50, required=True, blank=False)
        f.char("description", None)
        if table == "task_whitelists":
            f.pk_list("whitelisted_container_task_types", self.store, "container_task_types")
            f.pk_list("whitelisted_executable_task_types", self.store, "executable_task_types")
            f.raise_if_errors()
            return f.values
        name = f.values.get("name")
        if name is not None:
            problems = []
            if not QUEUE_NAME.match(name):
                problems.append(" @/+/-/_ only")
            clash = self.store.get("task_queues", "name", name)
            if clash is not None and clash["id"] != own_id:
                problems.append("task queue with this name already exists.")
            if problems:
                f.errors["name"] = problems
                f.values.pop("name")
        f.boolean("private", False)
        for flag in ("runs_executable_tasks", "runs_docker_container_tasks",
                     "runs_singularity_container_tasks", "active"):
            f.boolean(flag, True)
        f.pk_list("whitelists", self.store, "task_whitelists")
        f.raise_if_errors()
        return f.values
