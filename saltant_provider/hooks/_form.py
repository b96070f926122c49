"""The saltant connection form, defined once.

``get_provider_info`` turns it into ``conn-fields`` / ``ui-field-behaviour`` (what Airflow 3.2+
reads without importing the hook); ``SaltantHook.get_connection_form_widgets`` and
``get_ui_field_behaviour`` turn it into wtforms widgets for the Airflow 2.x and 3.0/3.1 forms.
This module imports nothing from Airflow, wtforms or HTTP libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CONN_TYPE = "saltant"
HOOK_NAME = "saltant"
DEFAULT_CONN_ID = "saltant_default"

DEFAULT_TIMEOUT = 90
DEFAULT_MAX_TRIES = 5


@dataclass(frozen=True)
class ExtraField:
    """One custom field of the connection form, stored in the connection's ``extra`` JSON."""

    name: str
    label: str
    kind: Literal["boolean", "string", "integer"]
    default: Any
    description: str
    minimum: int | None = None


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "verify_ssl",
        "Verify TLS certificate",
        "boolean",
        True,
        "Check the server's TLS certificate (https only). Turn off only for test servers.",
    ),
    ExtraField(
        "ca_bundle",
        "CA bundle path",
        "string",
        None,
        "Path, on the Airflow workers, of a PEM file with the CA certificates to trust.",
    ),
    ExtraField(
        "timeout",
        "Request timeout (seconds)",
        "integer",
        DEFAULT_TIMEOUT,
        "Seconds to wait for each HTTP answer from saltant.",
        minimum=1,
    ),
    ExtraField(
        "max_tries",
        "Max tries per request",
        "integer",
        DEFAULT_MAX_TRIES,
        "How many times one request is tried when saltant is unreachable or busy.",
        minimum=1,
    ),
)

HIDDEN_FIELDS: tuple[str, ...] = ("schema", "login")
RELABELING: dict[str, str] = {"host": "API URL", "password": "API token"}
PLACEHOLDERS: dict[str, str] = {
    "host": "https://saltant.example.org/api/",
    "password": "the 40-hex token of your saltant user",
    "port": "optional, when not in the API URL",
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """The ``conn-fields`` mapping of provider info (Airflow 3.2+ connection form)."""
    fields: dict[str, dict[str, Any]] = {}
    for f in EXTRA_FIELDS:
        schema: dict[str, Any] = {"type": [f.kind, "null"]}
        if f.default is not None:
            schema["default"] = f.default
        if f.minimum is not None:
            schema["minimum"] = f.minimum
        fields[f.name] = {"label": f.label, "description": f.description, "schema": schema}
    return fields


def ui_field_behaviour_info() -> dict[str, Any]:
    """The ``ui-field-behaviour`` mapping of provider info (kebab-case keys)."""
    return {
        "hidden-fields": list(HIDDEN_FIELDS),
        "relabeling": dict(RELABELING),
        "placeholders": dict(PLACEHOLDERS),
    }


def ui_field_behaviour() -> dict[str, Any]:
    """What ``BaseHook.get_ui_field_behaviour`` returns (snake_case keys, Airflow 2.x / 3.0-3.1)."""
    return {
        "hidden_fields": list(HIDDEN_FIELDS),
        "relabeling": dict(RELABELING),
        "placeholders": dict(PLACEHOLDERS),
    }


def form_widgets() -> dict[str, Any]:
    """wtforms widgets for the Airflow 2.x and 3.0/3.1 connection forms (imports wtforms here)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widgets: dict[str, Any] = {}
    for f in EXTRA_FIELDS:
        label = lazy_gettext(f.label)
        if f.kind == "boolean":
            widgets[f.name] = BooleanField(label, default=f.default, description=f.description)
        elif f.kind == "integer":
            widgets[f.name] = IntegerField(
                label,
                validators=[Optional(), NumberRange(min=f.minimum)],
                widget=BS3TextFieldWidget(),
                default=f.default,
                description=f.description,
            )
        else:
            widgets[f.name] = StringField(
                label, widget=BS3TextFieldWidget(), default=f.default, description=f.description
            )
    return widgets
