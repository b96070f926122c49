"""Request bodies as DRF reads them (JSON or form data) and DRF-style 400 errors.

``Fields`` collects field errors the way a DRF serializer does, so handlers can validate a
body field by field and answer every problem at once.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from .store import Store

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."

class ApiError(Exception):
    """An answer other than success: JSON body (or none), status code."""

    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def invalid(errors: dict[str, list[str]]) -> ApiError:
    return ApiError(400, errors)


def non_field(message: str) -> ApiError:
    """The real server's non-field error: a Django ValidationError list, stringified."""
    return ApiError(400, {"non_field_errors": [str([message])]})


class Body:
    """A request body, JSON or form data, with DRF's differences between the two."""

    def __init__(
        self, data: dict[str, Any], is_form: bool, multi: dict[str, list[str]] | None = None
    ) -> None:
        self.data = data
        self.is_form = is_form
        self._multi = multi

    @classmethod
    async def read(cls, request: Request) -> Body:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":  # needs python-multipart, like starlette forms
            form = await request.form()
            return cls.from_pairs([(k, str(v)) for k, v in form.multi_items()])
        raw = await request.body()
        if ctype == "application/x-www-form-urlencoded":  # what saltant-py sends
            return cls.from_pairs(parse_qsl(raw.decode("utf-8", "replace"),
                                            keep_blank_values=True))
        if not raw.strip():
            return cls({}, False)
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None
        if not isinstance(parsed, dict):
            kind = type(parsed).__name__
            raise invalid({"non_field_errors": [
                f"Invalid data. Expected a dictionary, but got {kind}."]})
        return cls(parsed, False)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> Body:
        """A form body; like Django's QueryDict, ``get`` gives a key's last value."""
        multi: dict[str, list[str]] = {}
        for key, value in pairs:
            multi.setdefault(key, []).append(value)
        return cls({k: v[-1] for k, v in multi.items()}, True, multi)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def getlist(self, key: str) -> list[Any]:
        if self._multi is not None:
            return list(self._multi.get(key, []))
        value = self.data.get(key)
        return value if isinstance(value, list) else [value]


class Fields:
    """Collects DRF-style field errors while reading validated values from a body.

    As in DRF, an optional field left out of a create gets its model default, while one
    left out of an update (PUT) keeps its stored value, except where an HTML form's
    absence means "false"/"empty" (booleans, id lists). PATCH (``partial``) changes only
    the fields it sends.
    """

    def __init__(self, body: Body, partial: bool, update: bool = False) -> None:
        self.body = body
        self.partial = partial
        self.update = update
        self.errors: dict[str, list[str]] = {}
        self.values: dict[str, Any] = {}

    def _present(self, key: str, required: bool, default: Any) -> bool:
        if self.body.has(key):
            return True
        if required and not self.partial:
            self.errors[key] = [REQUIRED]
        elif not self.partial and not self.update:
            self.values[key] = default
        return False

    def char(
        self, key: str, max_length: int | None, *, required: bool = False,
        blank: bool = True, null: bool = False, default: Any = "",
    ) -> None:
        if not self._present(key, required, default):
            return
        value = self.body.get(key)
        if value is None:
            if null:
                self.values[key] = None
            else:
                self.errors[key] = [NOT_NULL]
            return
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.errors[key] = ["Not a valid string."]
            return
        value = str(value)
        if value.strip() == "" and not blank:
            self.errors[key] = [NOT_BLANK]
        elif max_length is not None and len(value) > max_length:
            self.errors[key] = [f"Ensure this field has no more than {max_length} characters."]
        else:
            self.values[key] = value

    def boolean(self, key: str, default: bool) -> None:
        if not self.body.has(key):
            if not self.partial and self.body.is_form:
                # A form leaves unchecked boxes out, so DRF reads a missing one as false.
                self.values[key] = False
            elif not self.partial and not self.update:
                self.values[key] = default
            return
        value = self.body.get(key)
        text = str(value).strip().lower() if not isinstance(value, bool) else str(value).lower()
        if text in ("true", "1", "yes", "on", "t", "y"):
            self.values[key] = True
        elif text in ("false", "0", "no", "off", "f", "n", ""):
            self.values[key] = False
        else:
            self.errors[key] = ["Must be a valid boolean."]

    def json_value(self, key: str, expected: type, default: Any) -> None:
        if not self._present(key, False, default):
            return
        value = self.body.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                self.errors[key] = ["Value must be valid JSON."]
                return
        if not isinstance(value, expected):
            want = "a list of items" if expected is list else "a dictionary of items"
            self.errors[key] = [f'Expected {want} but got type "{type(value).__name__}".']
            return
        self.values[key] = value

    def pk_list(self, key: str, store: Store, table: str) -> None:
        if not self.body.has(key):
            if not self.partial and (self.body.is_form or not self.update):
                self.values[key] = []
            return
        raw = self.body.getlist(key)
        if not self.body.is_form and not isinstance(self.body.get(key), list):
            kind = type(self.body.get(key)).__name__
            self.errors[key] = [f'Expected a list of items but got type "{kind}".']
            return
        ids: list[int] = []
        for item in raw:
            pk = as_pk(item)
            if pk is None:
                self.errors[key] = [
                    f"Incorrect type. Expected pk value, received {type(item).__name__}."]
                return
            if not store.exists(table, "id", pk):
                self.errors[key] = [f'Invalid pk "{item}" - object does not exist.']
                return
            ids.append(pk)
        self.values[key] = ids

    def raise_if_errors(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def as_pk(value: Any) -> int | None:
    """A primary key as DRF accepts it (int or digit string), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
