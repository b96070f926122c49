"""SQLite storage for the local saltant-compatible server.

One ``sqlite3`` connection, used only from the server's event-loop thread. Lists are
filtered, counted and paged in SQL (``WHERE`` + ``LIMIT``/``OFFSET``) so that a page of a
10,000-instance table costs one indexed query, not a Python scan.

Datetimes are stored as fixed-width UTC strings (``2026-11-29T21:14:59.678829Z``) so that
string order is time order; :func:`format_dt` turns them into the API form.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

#: instance/type table names per saltant class ("executable" / "container").
INSTANCE_TABLES = {
    "executable": "executable_task_instances",
    "container": "container_task_instances",
}
TYPE_TABLES = {"executable": "executable_task_types", "container": "container_task_types"}

_TYPE_COMMON = (
    "id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, name TEXT NOT NULL UNIQUE,"
    " description TEXT NOT NULL DEFAULT '', datetime_created TEXT NOT NULL,"
    " command_to_run TEXT NOT NULL, environment_variables TEXT NOT NULL DEFAULT '[]',"
    " required_arguments TEXT NOT NULL DEFAULT '[]',"
    " required_arguments_default_values TEXT NOT NULL DEFAULT '{}'"
)
_INSTANCE_COLUMNS = (
    "seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE, user TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, datetime_created TEXT NOT NULL,"
    " datetime_finished TEXT, arguments TEXT NOT NULL DEFAULT '{}',"
    " task_queue INTEGER NOT NULL, task_type INTEGER NOT NULL"
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, email TEXT NOT NULL DEFAULT '', token TEXT UNIQUE,
    password TEXT NOT NULL DEFAULT '', is_superuser INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS executable_task_types ({_TYPE_COMMON}, json_file_option TEXT);
CREATE TABLE IF NOT EXISTS container_task_types ({_TYPE_COMMON}, logs_path TEXT,
    results_path TEXT, container_image TEXT NOT NULL, container_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '', private INTEGER NOT NULL,
    runs_executable_tasks INTEGER NOT NULL, runs_docker_container_tasks INTEGER NOT NULL,
    runs_singularity_container_tasks INTEGER NOT NULL, active INTEGER NOT NULL,
    whitelists TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS task_whitelists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    whitelisted_container_task_types TEXT NOT NULL DEFAULT '[]',
    whitelisted_executable_task_types TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS executable_task_instances ({_INSTANCE_COLUMNS});
CREATE TABLE IF NOT EXISTS container_task_instances ({_INSTANCE_COLUMNS});
CREATE INDEX IF NOT EXISTS eti_created ON executable_task_instances (datetime_created, seq);
CREATE INDEX IF NOT EXISTS cti_created ON container_task_instances (datetime_created, seq);
"""
# Filtered pages walk an index in list order (newest first) instead of sorting matches.
for _prefix, _table in (("eti", "executable_task_instances"), ("cti", "container_task_instances")):
    for _col in ("state", "name", "user", "task_type", "task_queue"):
        SCHEMA += (f"CREATE INDEX IF NOT EXISTS {_prefix}_{_col}_created"
                   f" ON {_table} ({_col}, datetime_created, seq);\n")

#: columns holding JSON text, decoded when a row is read.
JSON_COLUMNS = {
    "environment_variables",
    "required_arguments",
    "required_arguments_default_values",
    "whitelists",
    "whitelisted_container_task_types",
    "whitelisted_executable_task_types",
    "arguments",
}
BOOL_COLUMNS = {
    "private",
    "runs_executable_tasks",
    "runs_docker_container_tasks",
    "runs_singularity_container_tasks",
    "active",
}


def now_dt() -> str:
    """The current UTC time in the stored fixed-width form."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_dt(stored: str | None) -> str | None:
    """API form of a stored datetime: microseconds kept, dropped when zero."""
    if stored is None:
        return None
    return stored.replace(".000000Z", "Z")


def hash_password(password: str, salt: str | None = None) -> str:
    """A salted PBKDF2 hash (cheap iteration count: this is a test server)."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000).hex()
    return f"{salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` value."""
    salt, _, _ = stored.partition("$")
    return bool(stored) and secrets.compare_digest(hash_password(password, salt), stored)


def _regexp(pattern: str, value: Any) -> bool:
    """SQLite REGEXP: Python ``re.search``, like Postgres ``~`` for simple patterns."""
    return value is not None and re.search(pattern, str(value)) is not None


class Store:
    """All persistent state of the server, in one SQLite database."""

    def __init__(self, path: str = ":memory:") -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.create_function("REGEXP", 2, _regexp, deterministic=True)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- generic row access ------------------------------------------------------------------
    @staticmethod
    def decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
        """A row as a dict, JSON and boolean columns decoded."""
        if row is None:
            return None
        out = dict(row)
        for key, value in out.items():
            if key in JSON_COLUMNS and isinstance(value, str):
                out[key] = json.loads(value)
            elif key in BOOL_COLUMNS:
                out[key] = bool(value)
        return out

    @staticmethod
    def _encode(values: dict[str, Any]) -> dict[str, Any]:
        return {
            k: json.dumps(v) if k in JSON_COLUMNS else (int(v) if k in BOOL_COLUMNS else v)
            for k, v in values.items()
        }

    def get(self, table: str, key_col: str, key: Any) -> dict[str, Any] | None:
        cur = self.conn.execute(f"SELECT * FROM {table} WHERE {key_col} = ?", (key,))
        return self.decode(cur.fetchone())

    def insert(self, table: str, values: dict[str, Any]) -> int:
        enc = self._encode(values)
        cols = ", ".join(enc)
        marks = ", ".join("?" for _ in enc)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(enc.values())
        )
        return int(cur.lastrowid or 0)

    def update(self, table: str, key_col: str, key: Any, values: dict[str, Any]) -> None:
        if not values:
            return
        enc = self._encode(values)
        sets = ", ".join(f"{k} = ?" for k in enc)
        self.conn.execute(
            f"UPDATE {table} SET {sets} WHERE {key_col} = ?", (*enc.values(), key)
        )

    def exists(self, table: str, key_col: str, key: Any) -> bool:
        cur = self.conn.execute(f"SELECT 1 FROM {table} WHERE {key_col} = ?", (key,))
        return cur.fetchone() is not None

    def count(self, table: str, where: str, params: Sequence[Any]) -> int:
        cur = self.conn.execute(f"SELECT COUNT(*) FROM {table} {where}", tuple(params))
        return int(cur.fetchone()[0])

    def page(
        self,
        table: str,
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM {table} {where} ORDER BY {order} LIMIT ? OFFSET ?"
        cur = self.conn.execute(sql, (*params, limit, offset))
        return [d for d in (self.decode(r) for r in cur.fetchall()) if d is not None]

    def select(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(params))
        return [d for d in (self.decode(r) for r in cur.fetchall()) if d is not None]

    # -- meta and users ----------------------------------------------------------------------
    def meta(self, key: str, default: str) -> str:
        """A persistent setting; ``default`` is stored on first use."""
        cur = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,))
        row = cur.fetchone()
        if row is not None:
            return str(row[0])
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, default))
        return default

    def upsert_user(
        self, username: str, token: str, password: str, *, superuser: bool, email: str = ""
    ) -> None:
        """Create or refresh a user; its token and password are set from the command line."""
        # A token given to another user in an earlier run moves to this one.
        self.conn.execute(
            "UPDATE users SET token = NULL WHERE token = ? AND username != ?", (token, username)
        )
        self.conn.execute(
            "INSERT INTO users (username, email, token, password, is_superuser)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET"
            " token = excluded.token, password = excluded.password,"
            " is_superuser = excluded.is_superuser",
            (username, email, token, hash_password(password), int(superuser)),
        )

    def user_by_token(self, token: str) -> dict[str, Any] | None:
        cur = self.conn.execute("SELECT * FROM users WHERE token = ?", (token,))
        return self.decode(cur.fetchone())


# -- JSON shapes, exactly as the real server answers -------------------------------------------
def instance_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "user": row["user"],
        "name": row["name"],
        "state": row["state"],
        "datetime_created": format_dt(row["datetime_created"]),
        "datetime_finished": format_dt(row["datetime_finished"]),
        "arguments": row["arguments"],
        "task_queue": row["task_queue"],
        "task_type": row["task_type"],
    }


def type_json(row: dict[str, Any], kind: str) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "user": row["user"],
        "name": row["name"],
        "description": row["description"],
        "datetime_created": format_dt(row["datetime_created"]),
        "command_to_run": row["command_to_run"],
        "environment_variables": row["environment_variables"],
        "required_arguments": row["required_arguments"],
        "required_arguments_default_values": row["required_arguments_default_values"],
    }
    if kind == "executable":
        out["json_file_option"] = row["json_file_option"]
    else:
        for key in ("logs_path", "results_path", "container_image", "container_type"):
            out[key] = row[key]
    return out


def queue_json(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "user", "name", "description", "private", "runs_executable_tasks",
            "runs_docker_container_tasks", "runs_singularity_container_tasks", "active",
            "whitelists")
    return {k: row[k] for k in keys}


def whitelist_json(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "user", "name", "description", "whitelisted_container_task_types",
            "whitelisted_executable_task_types")
    return {k: row[k] for k in keys}


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"username": row["username"], "email": row["email"]}
