"""What Airflow reads to discover this provider (completed by the provider work)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-saltant",
        "name": "saltant",
        "description": "Run saltant jobs from Apache Airflow.",
        "versions": ["0.1.0"],
    }
