"""What Airflow reads to discover this provider: connection type, form fields, classes.

Airflow 3.2+ builds the connection form from ``conn-fields`` and ``ui-field-behaviour`` here
without importing the hook; both come from ``saltant_provider.hooks._form``, as do the hook's
wtforms widgets for older Airflow versions. Importing this module imports nothing from Airflow.
"""

from __future__ import annotations

from typing import Any

from saltant_provider import __version__
from saltant_provider.hooks import _form

INTEGRATION = "saltant"


def get_provider_info() -> dict[str, Any]:
    """The provider info dict (validated against Airflow's ``provider_info.schema.json``)."""
    return {
        "package-name": "airflow-provider-saltant",
        "name": "saltant",
        "description": "Run saltant jobs from Apache Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://github.com/saltant-org/saltant",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["saltant_provider.hooks.saltant"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["saltant_provider.operators.saltant"],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["saltant_provider.sensors.saltant"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["saltant_provider.triggers.saltant"],
            }
        ],
        "connection-types": [
            {
                "connection-type": _form.CONN_TYPE,
                "hook-class-name": "saltant_provider.hooks.saltant.SaltantHook",
                "hook-name": _form.HOOK_NAME,
                "conn-fields": _form.conn_fields(),
                "ui-field-behaviour": _form.ui_field_behaviour_info(),
            }
        ],
        "extra-links": ["saltant_provider.links.saltant.SaltantTaskInstanceLink"],
    }
