"""The one place that knows where Airflow keeps its base classes, across 2.10 to 3.3.

``airflow.sdk`` (Airflow 3) first; the 2.x module paths otherwise. Nothing else in the provider
imports these names from Airflow directly, so a move in a future Airflow is fixed here once.
Importing this module pulls in no HTTP or async library of ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

try:  # Airflow 3.x: the task SDK
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator

    AIRFLOW_V_3 = True
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,assignment,attr-defined]
    from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef,assignment]
    from airflow.models.baseoperatorlink import (  # type: ignore[no-redef,assignment]
        BaseOperatorLink,
    )
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef,assignment]

    AIRFLOW_V_3 = False

try:  # the SDK's own exceptions (Airflow 3.1+); before that, airflow.exceptions
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
except ImportError:
    from airflow.exceptions import (  # type: ignore[no-redef,assignment]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

try:
    from airflow.sdk import conf
except ImportError:
    from airflow.configuration import conf  # type: ignore[no-redef,assignment]

if TYPE_CHECKING:  # type checking runs against Airflow 3
    from airflow.sdk import Context  # noqa: F401
    from airflow.sdk.types import TaskInstanceKey

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "conf",
    "get_xcom_value",
]


def get_xcom_value(ti_key: TaskInstanceKey, key: str) -> Any:
    """Read one XCom of a task instance, the way an operator link must in 2.x and 3.x."""
    try:
        from airflow.sdk.execution_time.xcom import XCom
    except ImportError:
        from airflow.models.xcom import XCom  # type: ignore[no-redef,assignment]
    return XCom.get_value(ti_key=ti_key, key=key)
