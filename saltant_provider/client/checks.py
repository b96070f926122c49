"""Checks of user input, done before any request so mistakes get a clear error, not a 400.

Also the filters each resource really has: saltant silently ignores an unknown or empty filter
and returns everything, so the client refuses those instead of returning a wrong answer.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

from saltant_provider.client.exceptions import InvalidRequestError


def check_uuid(value: object) -> str:
    """Return ``value`` as a canonical uuid string, or explain why it is not one."""
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuidlib.UUID(value.strip()))
        except ValueError:
            pass
    raise InvalidRequestError(
        f"{value!r} is not a task instance uuid; pass a uuid such as "
        "'af77cca4-8a9a-4366-902b-9615a611be71' (the 'uuid' field of an instance)"
    )


def check_id(value: object, what: str) -> int:
    """Return a positive integer primary key, refusing bools, floats and junk strings."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value > 0:
        return value
    raise InvalidRequestError(f"{what} must be a positive integer id, got {value!r}")


def check_username(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise InvalidRequestError(f"username must be a non-empty string without '/', got {value!r}")
    return value.strip()


def check_json(value: object, what: str, kind: type | tuple[type, ...] = dict) -> Any:
    """Refuse a value of the wrong type or that cannot be sent as JSON."""
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InvalidRequestError(
            f"{what} must be a {names}, got {type(value).__name__}: {value!r:.200}"
        )
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(
            f"{what} is not JSON-serialisable ({exc}); use only dict, list, str, int, float, "
            "bool and None values"
        ) from None
    return value


def check_get_key(id: object, name: object) -> tuple[str, object]:
    """saltant-py's ``get(id=None, name=None)`` rule: exactly one of the two."""
    if (id is None) == (name is None):
        raise InvalidRequestError(
            "get() needs exactly one of id= or name= (got "
            + ("both" if id is not None else "neither")
            + "); e.g. get(id=3) or get(name='my-queue')"
        )
    if id is not None:
        return "id", check_id(id, "id")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"name must be a non-empty string, got {name!r}")
    return "name", name


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def check_request_timeout(value: object) -> float:
    """A per-request timeout: finite seconds > 0 (an infinite one would let a request hang)."""
    seconds = _seconds(value)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise InvalidRequestError(
            f"default_timeout must be a finite number of seconds > 0, got {value!r}"
        )
    return seconds


def check_timing(refresh_period: object, timeout: object) -> tuple[float, float | None]:
    """Validate a wait's poll interval and optional timeout (seconds)."""
    period = _seconds(refresh_period)
    if period is None or not math.isfinite(period) or period < 0:
        raise InvalidRequestError(f"refresh_period must be seconds >= 0, got {refresh_period!r}")
    if timeout is None:
        return period, None
    limit = _seconds(timeout)
    if limit is None or limit < 0:
        raise InvalidRequestError(f"timeout must be None or seconds >= 0, got {timeout!r}")
    return period, limit


# --------------------------------------------------------------------------- filters
_TEXT = ("", "__contains", "__in", "__startswith", "__endswith", "__regex")
_IDS = ("", "__in")
_DATES = ("", "__year", "__range", "__lt", "__lte", "__gt", "__gte")
_BOOL = ("",)


_LOOKUP_SUFFIX = re.compile(r"__(contains|in|startswith|endswith|regex|year|range|lt|lte|gt|gte)$")


def _expand(spec: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(field + lookup for field, lookups in spec.items() for lookup in lookups)


_INSTANCE_FILTERS = _expand(
    {
        "name": _TEXT,
        "state": _TEXT,
        "user__username": _TEXT,
        "task_type": _IDS,
        "task_queue": _IDS,
        "datetime_created": _DATES,
        "datetime_finished": _DATES,
    }
)
_TYPE_FILTERS = {
    "name": _TEXT,
    "description": _TEXT,
    "user__username": _TEXT,
    "command_to_run": _TEXT,
    "datetime_created": _DATES,
}
# The server silently ignores an unknown filter and returns everything, so the client refuses
# filters it knows the server lacks (e.g. ``uuid__in``) instead of returning a wrong answer.
FILTERS: dict[str, frozenset[str]] = {
    "executable_task_instances": _INSTANCE_FILTERS,
    "container_task_instances": _INSTANCE_FILTERS,
    "executable_task_types": _expand(_TYPE_FILTERS),
    "container_task_types": _expand(
        {**_TYPE_FILTERS, "container_image": _TEXT, "container_type": _TEXT}
    ),
    "task_queues": _expand(
        {
            "name": _TEXT,
            "description": _TEXT,
            "user__username": _TEXT,
            "private": _BOOL,
            "runs_executable_tasks": _BOOL,
            "runs_docker_container_tasks": _BOOL,
            "runs_singularity_container_tasks": _BOOL,
            "active": _BOOL,
        }
    ),
    "task_whitelists": _expand({"name": _TEXT, "description": _TEXT, "user__username": _TEXT}),
    "users": _expand({"username": _TEXT, "email": _TEXT}),
}


def _filter_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, (int, float, str, uuidlib.UUID, dt.date)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_filter_value(key, v) for v in value)
    raise InvalidRequestError(
        f"filter {key!r} has a value of type {type(value).__name__}; use str, int, bool, "
        "datetime, or a list of those for __in / __range lookups"
    )


def check_filters(resource: str, filters: object) -> dict[str, str]:
    """Turn a user's filter dict into query parameters, refusing filters saltant would ignore."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidRequestError(
            f"filters must be a dict such as {{'name__startswith': 'nightly'}}, "
            f"got {type(filters).__name__}"
        )
    known = FILTERS[resource]
    params: dict[str, str] = {}
    for key, value in filters.items():
        if not isinstance(key, str):
            raise InvalidRequestError(f"filter names must be strings, got {key!r}")
        if key in ("page", "page_size"):
            continue
        if key not in known:
            bases = sorted(k for k in known if not _LOOKUP_SUFFIX.search(k))
            raise InvalidRequestError(
                f"saltant has no filter {key!r} for {resource} (the server would silently "
                f"ignore it and return everything); filterable fields: {', '.join(bases)}"
            )
        text = None if value is None else _filter_value(key, value)
        if not text:
            raise InvalidRequestError(
                f"filter {key!r} is empty ({value!r}); saltant ignores empty filter values and "
                "would return everything: drop the filter or give it a value"
            )
        params[key] = text
    return params


def check_page(page: object, page_size: object) -> tuple[int, int]:
    for what, value in (("page", page), ("page_size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequestError(f"{what} must be an integer >= 1, got {value!r}")
    return page, page_size  # type: ignore[return-value]
