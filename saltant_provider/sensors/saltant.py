"""SaltantTaskSensor: wait for an existing saltant task instance to end.

Importing this module is cheap: the client and the trigger are imported when the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from saltant_provider._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    conf,
)
from saltant_provider.hooks._form import DEFAULT_CONN_ID
from saltant_provider.hooks.saltant import SaltantHook, check_task_kind
from saltant_provider.operators.saltant import (
    DEFER_TIMEOUT_MARGIN,
    SaltantTaskEventError,
    SaltantTaskFailedError,
)

if TYPE_CHECKING:
    from saltant_provider._compat import Context

__all__ = ["SaltantTaskSensor"]


class SaltantTaskSensor(BaseSensorOperator):
    """Wait until a saltant task instance ends.

    ``successful`` ends the wait. ``failed`` and ``terminated`` fail the task
    (``SaltantTaskFailedError``), or skip it when ``soft_fail=True``.

    :param task_instance_uuid: the uuid to watch (templated, e.g.
        ``"{{ ti.xcom_pull(task_ids='create') }}"``).
    :param saltant_conn_id: the Airflow connection of type ``saltant``.
    :param task_kind: ``"executable"`` (default) or ``"container"``.
    :param deferrable: wait in the triggerer (deadline: the sensor ``timeout``); default
        Airflow's ``[operators] default_deferrable``.
    :param shared_polling: when deferred, share one poller with the other saltant waits of the
        same connection and task kind (default); False polls this instance on its own.

    ``poke_interval``, ``mode`` (poke or reschedule), ``timeout`` and ``soft_fail`` work as for
    every Airflow sensor.
    """

    template_fields: Sequence[str] = ("task_instance_uuid",)
    ui_color = "#c6e2ff"

    def __init__(
        self,
        *,
        task_instance_uuid: str,
        saltant_conn_id: str = DEFAULT_CONN_ID,
        task_kind: str = "executable",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        shared_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shared_polling = bool(shared_polling)
        if not isinstance(task_instance_uuid, str) and not hasattr(task_instance_uuid, "resolve"):
            raise ValueError(
                f"task_instance_uuid must be a string (or a template), got {task_instance_uuid!r}"
            )
        self.task_instance_uuid = task_instance_uuid
        self.saltant_conn_id = saltant_conn_id
        self.task_kind = check_task_kind(task_kind)
        self.deferrable = bool(deferrable)

    def _uuid(self) -> str:
        uuid = str(self.task_instance_uuid or "").strip()
        if not uuid or uuid == "None":
            raise SaltantTaskEventError(
                "task_instance_uuid rendered empty: the upstream task pushed no saltant uuid"
            )
        return uuid

    def _end(self, uuid: str, state: str) -> bool:
        if state == "successful":
            self.log.info("saltant task instance %s ended successful", uuid)
            return True
        error = SaltantTaskFailedError(uuid, state, self.task_kind)
        if self.soft_fail:
            raise AirflowSkipException(f"{error} (soft_fail: skipping)")
        raise error

    def poke(self, context: Context) -> bool:
        from saltant_provider.client import NotFoundError

        uuid = self._uuid()
        try:
            state = SaltantHook(self.saltant_conn_id).instances(self.task_kind).get(uuid).state
        except NotFoundError as exc:
            raise SaltantTaskEventError(
                f"saltant {self.task_kind} task instance {uuid} was not found ({exc}); check the "
                f"uuid (the upstream XCom), task_kind and the connection {self.saltant_conn_id!r}"
            ) from exc
        self.log.info("saltant task instance %s is %s", uuid, state)
        if state.is_terminal:
            return self._end(uuid, str(state))
        return False

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        from saltant_provider.triggers.saltant import SaltantTaskTrigger

        timeout = float(self.timeout) if self.timeout is not None else None
        self.defer(
            trigger=SaltantTaskTrigger(
                saltant_conn_id=self.saltant_conn_id,
                task_instance_uuid=self._uuid(),
                task_kind=self.task_kind,
                poll_interval=float(self.poke_interval),
                deadline=None if timeout is None else time.time() + timeout,
                shared_polling=self.shared_polling,
            ),
            method_name="execute_complete",
            timeout=None
            if timeout is None
            else timedelta(
                seconds=timeout + max(DEFER_TIMEOUT_MARGIN, 2 * float(self.poke_interval))
            ),
        )
        return None

    def execute_complete(self, context: Context, event: Any = None) -> None:
        """Resume after the trigger: check its event."""
        from saltant_provider.triggers.saltant import parse_event

        try:
            ev = parse_event(event)
        except Exception as exc:
            raise SaltantTaskEventError(f"saltant trigger sent no usable event: {exc}") from exc
        if ev.status == "success":
            self._end(ev.task_instance_uuid, "successful")
            return
        if ev.status in ("failed", "terminated"):
            self._end(ev.task_instance_uuid, ev.state or ev.status)
        if ev.status == "timeout":
            message = (
                f"saltant task instance {ev.task_instance_uuid} did not finish within the sensor "
                f"timeout of {self.timeout} s (last state {ev.state})"
            )
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        error = SaltantTaskEventError(
            f"watching saltant task instance {ev.task_instance_uuid} failed: "
            f"{ev.message or ev.status}"
        )
        if self.soft_fail:
            raise AirflowSkipException(f"{error} (soft_fail: skipping)")
        raise error
