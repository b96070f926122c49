"""Provider registration: what Airflow discovers about saltant without importing the hook."""

from __future__ import annotations

import importlib.metadata
import json
import warnings
from pathlib import Path

import airflow
import pytest

from saltant_provider.get_provider_info import get_provider_info
from saltant_provider.hooks import _form
from saltant_provider.hooks.saltant import SaltantHook

AIRFLOW_DIR = Path(airflow.__file__).parent


def test_package_name_is_the_distribution_name() -> None:
    info = get_provider_info()
    dist = importlib.metadata.distribution(info["package-name"])
    assert dist.metadata["Name"] == "airflow-provider-saltant"
    assert info["versions"][0] == dist.version
    entry_points = [ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"]
    assert [ep.value for ep in entry_points] == [
        "saltant_provider.get_provider_info:get_provider_info"
    ]


def test_valid_against_airflow_provider_info_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_conn_fields_valid_against_provider_yaml_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    path = AIRFLOW_DIR / "provider.yaml.schema.json"
    if not path.exists():
        pytest.skip("this Airflow ships no provider.yaml schema")
    schema = json.loads(path.read_text())
    item = schema["properties"]["connection-types"]["items"]
    if "conn-fields" not in item["properties"]:
        pytest.skip("this Airflow's schema has no conn-fields (before 3.2)")
    (conn_type,) = get_provider_info()["connection-types"]
    jsonschema.validate(conn_type, item)


def test_every_declared_module_and_class_imports() -> None:
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name).name == "saltant Task Instance"
    (conn_type,) = info["connection-types"]
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is SaltantHook


def test_form_defined_once() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == SaltantHook.conn_type == "saltant"
    assert set(conn_type["conn-fields"]) == {f.name for f in _form.EXTRA_FIELDS}
    try:
        widgets = SaltantHook.get_connection_form_widgets()
    except ImportError:  # Airflow 3.3 ships no flask_appbuilder; it reads conn-fields instead
        widgets = None
    if widgets is not None:
        assert set(widgets) == set(conn_type["conn-fields"])
    behaviour = conn_type["ui-field-behaviour"]
    assert "port" not in behaviour["hidden-fields"]  # apache/airflow#73298: keep port visible
    assert "host" not in behaviour["hidden-fields"]
    assert "password" not in behaviour["hidden-fields"]
    assert behaviour["relabeling"]["password"] == "API token"
    assert SaltantHook.get_ui_field_behaviour()["hidden_fields"] == behaviour["hidden-fields"]
    fields = conn_type["conn-fields"]
    assert fields["verify_ssl"]["schema"]["default"] is True
    assert fields["timeout"]["schema"]["default"] == 90


def test_providers_manager_sees_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = ProvidersManager()
        assert "airflow-provider-saltant" in pm.providers
        hooks = pm.hooks
        assert hooks["saltant"] is not None
        assert hooks["saltant"].hook_class_name == "saltant_provider.hooks.saltant.SaltantHook"
        widgets = pm.connection_form_widgets
        behaviours = pm.field_behaviours
    for f in _form.EXTRA_FIELDS:
        assert f"extra__saltant__{f.name}" in widgets
    assert "schema" in behaviours["saltant"]["hidden_fields"]
    assert behaviours["saltant"]["relabeling"]["host"] == "API URL"
