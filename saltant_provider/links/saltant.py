"""The "saltant Task Instance" extra link: the task instance's page in the saltant front end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from saltant_provider._compat import BaseOperatorLink, get_xcom_value

if TYPE_CHECKING:
    from saltant_provider._compat import TaskInstanceKey

#: XCom key under which SaltantCreateTaskOperator pushes the front-end URL.
XCOM_SALTANT_URL = "saltant_url"
LINK_NAME = "saltant Task Instance"


class SaltantTaskInstanceLink(BaseOperatorLink):
    """Link to ``{server}/executabletaskinstances/<uuid>/`` (or ``containertaskinstances``).

    The URL is the XCom ``saltant_url`` that the operator pushes as soon as the instance exists;
    an empty string (no button) when the task never got that far.
    """

    name = LINK_NAME

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        value = get_xcom_value(ti_key, XCOM_SALTANT_URL)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
        return ""
