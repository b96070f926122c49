"""An in-memory stand-in for the async client, for deterministic poller tests.

Used where the real server cannot be made to misbehave on cue (a finish exactly between two pages,
an error for exactly one GET). It follows the API page: newest first, offset pages, 404 for a page
out of range, ``state__in`` and ``datetime_created__gte`` filters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from saltant_provider.client.core import Page
from saltant_provider.client.exceptions import NotFoundError
from saltant_provider.client.states import TaskState


@dataclass
class FakeInstance:
    uuid: str
    state: TaskState
    datetime_created: dt.datetime


@dataclass
class FakeManager:
    instances: dict[str, FakeInstance] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    #: Called after page N of a listing was computed, before it is returned: (page) -> None.
    after_page: Callable[[int], Awaitable[None]] | None = None
    #: uuid -> exception raised by the next GET of that uuid.
    get_errors: dict[str, BaseException] = field(default_factory=dict)
    #: Exceptions raised by the next listings, in order.
    list_errors: list[BaseException] = field(default_factory=list)
    _clock: int = 0

    def add(self, state: TaskState = TaskState.RUNNING) -> str:
        self._clock += 1
        created = dt.datetime(2026, 11, 29, 22, 0, tzinfo=dt.timezone.utc) + dt.timedelta(
            seconds=self._clock
        )
        uuid = str(uuidlib.uuid4())
        self.instances[uuid] = FakeInstance(uuid, state, created)
        return uuid

    def finish(self, uuid: str, state: TaskState = TaskState.SUCCESSFUL) -> None:
        self.instances[uuid].state = state

    def count(self, kind: str) -> int:
        return sum(1 for name, _ in self.calls if name == kind)

    async def get(self, uuid: str) -> FakeInstance:
        self.calls.append(("get", uuid))
        await asyncio.sleep(0)
        if uuid in self.get_errors:
            raise self.get_errors.pop(uuid)
        if uuid not in self.instances:
            raise NotFoundError("Not found.", status_code=404, url=f"fake/{uuid}/", method="GET")
        inst = self.instances[uuid]
        return FakeInstance(inst.uuid, inst.state, inst.datetime_created)

    async def list_page(
        self, filters: dict[str, Any] | None = None, page: int = 1, page_size: int = 10
    ) -> Page:
        self.calls.append(("list", dict(filters or {}, page=page)))
        await asyncio.sleep(0)
        if self.list_errors:
            raise self.list_errors.pop(0)
        filters = filters or {}
        rows = sorted(self.instances.values(), key=lambda i: i.datetime_created, reverse=True)
        if "state__in" in filters:
            wanted = set(filters["state__in"].split(","))
            rows = [r for r in rows if r.state.value in wanted]
        if "datetime_created__gte" in filters:
            bound = dt.datetime.fromisoformat(
                filters["datetime_created__gte"].replace("Z", "+00:00")
            )
            rows = [r for r in rows if r.datetime_created >= bound]
        pages = max(1, math.ceil(len(rows) / page_size))
        if page > pages:
            raise NotFoundError("Invalid page.", status_code=404, url="fake/", method="GET")
        chunk = rows[(page - 1) * page_size : page * page_size]
        result = Page(
            count=len(rows),
            next=f"fake/?page={page + 1}" if page < pages else None,
            results=[FakeInstance(r.uuid, r.state, r.datetime_created) for r in chunk],
        )
        if self.after_page is not None:
            await self.after_page(page)
        return result


@dataclass
class FakeClient:
    executable_task_instances: FakeManager = field(default_factory=FakeManager)
    closed: bool = False

    @property
    def container_task_instances(self) -> FakeManager:
        return self.executable_task_instances

    async def aclose(self) -> None:
        self.closed = True


def factory_for(client: FakeClient) -> Callable[[], Awaitable[FakeClient]]:
    async def make() -> FakeClient:
        return client

    return make
