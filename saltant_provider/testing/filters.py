"""django-filter style query filters, turned into SQL.

Each resource declares its filterable fields and their family; a query parameter
``<field>`` or ``<field>__<lookup>`` with a known lookup becomes a ``WHERE`` clause.
Anything else is ignored, as on the real server (an unknown filter gives the unfiltered
list). Empty values are ignored too (django-filter skips them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

TEXT_LOOKUPS = {"exact", "contains", "in", "startswith", "endswith", "regex"}
FK_LOOKUPS = {"exact", "in"}
DATE_LOOKUPS = {"exact", "year", "range", "lt", "lte", "gt", "gte"}
BOOL_LOOKUPS = {"exact"}

STATES = ("created", "published", "running", "successful", "failed", "terminated")
#: the real server's message, with its uninterpolated placeholder.
BAD_CHOICE = "Select a valid choice. %(value)s is not one of the available choices."
BAD_FK = "Select a valid choice. That choice is not one of the available choices."

#: field -> (column, family); family in text, state, fk, date, bool, choice:<a>|<b>
InstanceFields = {
    "name": ("name", "text"),
    "state": ("state", "state"),
    "user__username": ("user", "text"),
    "task_type": ("task_type", "fk"),
    "task_queue": ("task_queue", "fk"),
    "datetime_created": ("datetime_created", "date"),
    "datetime_finished": ("datetime_finished", "date"),
}
TypeFields = {
    "name": ("name", "text"),
    "description": ("description", "text"),
    "user__username": ("user", "text"),
    "command_to_run": ("command_to_run", "text"),
    "datetime_created": ("datetime_created", "date"),
}
ContainerTypeFields = {
    **TypeFields,
    "container_image": ("container_image", "text"),
    "container_type": ("container_type", "text"),
}
QueueFields = {
    "name": ("name", "text"),
    "description": ("description", "text"),
    "user__username": ("user", "text"),
    "private": ("private", "bool"),
    "runs_executable_tasks": ("runs_executable_tasks", "bool"),
    "runs_docker_container_tasks": ("runs_docker_container_tasks", "bool"),
    "runs_singularity_container_tasks": ("runs_singularity_container_tasks", "bool"),
    "active": ("active", "bool"),
}
WhitelistFields = {
    "name": ("name", "text"),
    "description": ("description", "text"),
    "user__username": ("user", "text"),
}
UserFields = {"username": ("username", "text"), "email": ("email", "text")}

_LOOKUPS = {
    "text": TEXT_LOOKUPS,
    "state": TEXT_LOOKUPS,
    "fk": FK_LOOKUPS,
    "date": DATE_LOOKUPS,
    "bool": BOOL_LOOKUPS,
}


class FilterError(Exception):
    """A filter value the real server rejects with 400; ``errors`` is the DRF body."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


def parse_datetime(value: str) -> str | None:
    """A full ISO datetime as the stored UTC string; ``None`` if not one (a bare date too)."""
    text = value.strip()
    if len(text) < 11 or text[10] not in "T ":
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bool(value: str) -> bool | None:
    """NullBooleanField parsing: anything unrecognised means 'no filter'."""
    low = value.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    return None


def build_where(
    fields: Mapping[str, tuple[str, str]],
    params: Mapping[str, str],
    fk_exists: Callable[[str, int], bool] | None = None,
) -> tuple[str, list[Any]]:
    """``WHERE`` clause and parameters for the recognised filters in ``params``.

    ``fk_exists(column, id)`` checks an exact foreign-key value: django-filter validates it
    against the related table and answers 400 for an unknown id.
    """
    clauses: list[str] = []
    args: list[Any] = []
    errors: dict[str, list[str]] = {}
    for key, value in params.items():
        field, _, lookup = key.partition("__")
        if field == "user" and lookup.startswith("username"):
            field, _, lookup = "user__username", "", lookup[len("username") :].lstrip("_")
        spec = fields.get(field)
        lookup = lookup or "exact"
        if spec is None or lookup not in _LOOKUPS[spec[1]] or value == "":
            continue
        column, family = spec
        try:
            clause, values = _clause(column, family, lookup, value)
            exact_fk = family == "fk" and lookup == "exact"
            if exact_fk and fk_exists is not None and not fk_exists(column, values[0]):
                raise FilterError({column: [BAD_FK]})
        except FilterError as exc:
            errors[key] = next(iter(exc.errors.values()))
            continue
        if clause:
            clauses.append(clause)
            args.extend(values)
    if errors:
        raise FilterError(errors)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _clause(column: str, family: str, lookup: str, value: str) -> tuple[str, list[Any]]:
    if family in ("text", "state"):
        if family == "state" and lookup in ("exact", "in"):
            for item in value.split(",") if lookup == "in" else [value]:
                if item not in STATES:
                    raise FilterError({column: [BAD_CHOICE]})
        return _text_clause(column, lookup, value)
    if family == "fk":
        items = value.split(",") if lookup == "in" else [value]
        try:
            ids = [int(i) for i in items]
        except ValueError:
            msg = BAD_FK if lookup == "exact" else "Enter a number."
            raise FilterError({column: [msg]}) from None
        return f"{column} IN ({', '.join('?' for _ in ids)})", list(ids)
    if family == "bool":
        flag = _bool(value)
        return ("", []) if flag is None else (f"{column} = ?", [int(flag)])
    return _date_clause(column, lookup, value)


def _text_clause(column: str, lookup: str, value: str) -> tuple[str, list[Any]]:
    if lookup == "exact":
        return f"{column} = ?", [value]
    if lookup == "in":
        items = value.split(",")
        return f"{column} IN ({', '.join('?' for _ in items)})", items
    if lookup == "contains":
        return f"instr({column}, ?) > 0", [value]
    if lookup == "startswith":
        return f"substr({column}, 1, ?) = ?", [len(value), value]
    if lookup == "endswith":
        return f"substr({column}, -?) = ?", [len(value), value]
    return f"{column} REGEXP ?", [value]  # regex: pattern first (REGEXP(pattern, value))


def _date_clause(column: str, lookup: str, value: str) -> tuple[str, list[Any]]:
    if lookup == "year":
        try:
            year = int(value)
        except ValueError:
            raise FilterError({column: ["Enter a number."]}) from None
        return f"substr({column}, 1, 4) = ?", [f"{year:04d}"]
    if lookup == "range":
        parts = value.split(",")
        if len(parts) != 2:
            raise FilterError({column: ["Range query expects two values."]})
        low, high = parse_datetime(parts[0]), parse_datetime(parts[1])
        if low is None or high is None:
            raise FilterError({column: ["Enter a valid date/time."]})
        return f"{column} BETWEEN ? AND ?", [low, high]
    stamp = parse_datetime(value)
    if stamp is None:
        raise FilterError({column: ["Enter a valid date/time."]})
    op = {"exact": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[lookup]
    return f"{column} {op} ?", [stamp]
