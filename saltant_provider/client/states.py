"""The saltant task-instance states: the one place that knows them and which are terminal."""

from __future__ import annotations

import enum


class TaskState(str, enum.Enum):
    """State of a saltant task instance.

    ``created -> published -> running -> successful | failed | terminated``.
    ``published`` is unreliable on the real server (it can arrive after ``running``), so never
    read it as "not started".
    """

    CREATED = "created"
    PUBLISHED = "published"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    TERMINATED = "terminated"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        """True once the instance can no longer change state."""
        return self in TERMINAL_STATES

    @property
    def is_successful(self) -> bool:
        return self is TaskState.SUCCESSFUL

    @classmethod
    def parse(cls, value: str) -> TaskState:
        """Return the state named ``value``; raise ``ValueError`` naming the known states."""
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(
                f"unknown saltant task state {value!r}; expected one of: {known}"
            ) from None


TERMINAL_STATES: frozenset[TaskState] = frozenset(
    {TaskState.SUCCESSFUL, TaskState.FAILED, TaskState.TERMINATED}
)
UNFINISHED_STATES: tuple[TaskState, ...] = (
    TaskState.CREATED,
    TaskState.PUBLISHED,
    TaskState.RUNNING,
)
