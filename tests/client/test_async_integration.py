"""The async client against the local saltant server over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from saltant_provider.client import AsyncClient, Page, TaskState
from saltant_provider.client.exceptions import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    WaitTimeoutError,
)

from .conftest import World, unique

MISSING = "00000000-0000-4000-8000-000000000000"


def _ac(saltant_server: Any, **kw: Any) -> AsyncClient:
    return AsyncClient(
        saltant_server.url, saltant_server.token, max_tries=3, backoff_base=0.05, **kw
    )


async def test_async_instance_calls(world: World, saltant_server: Any) -> None:
    sync = world.client.executable_task_instances
    name = unique("async")
    made = [
        sync.create(world.echo.id, world.queue.id, {"msg": str(i)}, name=name) for i in range(3)
    ]
    async with _ac(saltant_server) as ac:
        mgr = ac.executable_task_instances
        await ac.test_authentication()
        got = await mgr.get(made[0].uuid)
        assert got.uuid == made[0].uuid and got.arguments == {"msg": "0"}
        done = await mgr.wait_until_finished(made[0].uuid, refresh_period=0.05, timeout=30)
        assert done.state is TaskState.SUCCESSFUL and done.datetime_finished is not None

        page = await mgr.list_page({"name": name}, page=1, page_size=2)
        assert isinstance(page, Page) and page.count == 3 and page.next and len(page.results) == 2
        last = await mgr.list_page({"name": name}, page=2, page_size=2)
        assert last.next is None and len(last.results) == 1
        seen = [i.uuid async for i in mgr.iter({"name": name}, page_size=1)]
        assert sorted(seen) == sorted(m.uuid for m in made)
        assert len(await mgr.list({"name": name})) == 3
        assert await mgr.list({"name": unique("none")}) == []
        assert mgr.front_end_url(got.uuid) == sync.front_end_url(got.uuid)

        with pytest.raises(NotFoundError):
            await mgr.get(MISSING)
        with pytest.raises(InvalidRequestError):
            await mgr.list({"uuid": made[0].uuid})
        with pytest.raises(InvalidRequestError, match="AsyncClient"):
            got.sync()


async def test_async_terminate_and_timeout(world: World, saltant_server: Any) -> None:
    slow = world.client.executable_task_instances.create(world.sleeper.id, world.queue.id)
    async with _ac(saltant_server) as ac:
        mgr = ac.executable_task_instances
        with pytest.raises(WaitTimeoutError):
            await mgr.wait_until_finished(slow.uuid, refresh_period=0.05, timeout=0.3)
        assert not (await mgr.get(slow.uuid)).state.is_terminal
        told = await mgr.terminate(slow.uuid)
        assert told.uuid == slow.uuid
        final = await mgr.wait_until_finished(slow.uuid, refresh_period=0.05, timeout=30)
        assert final.state is TaskState.TERMINATED


async def test_async_container_instances(world: World, saltant_server: Any) -> None:
    inst = world.client.container_task_instances.create(
        world.container.id, world.queue.id, name=unique("actr")
    )
    async with _ac(saltant_server) as ac:
        mgr = ac.container_task_instances
        assert (await mgr.get(inst.uuid)).task_type == world.container.id
        await mgr.terminate(inst.uuid)
        final = await mgr.wait_until_finished(inst.uuid, refresh_period=0.05, timeout=30)
        assert final.state.is_terminal
        assert [
            i.uuid for i in await mgr.list({"name": inst.name, "task_type": world.container.id})
        ]


async def test_async_bad_token_and_concurrency(saltant_server: Any) -> None:
    async with AsyncClient(saltant_server.url, "e" * 40) as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.test_authentication()
        assert "e" * 40 not in str(info.value)
    async with _ac(saltant_server) as ac:
        pages = await asyncio.gather(
            *(ac.executable_task_instances.list_page(page_size=1) for _ in range(10))
        )
        assert all(isinstance(p, Page) for p in pages)


async def test_async_path_never_blocks(
    world: World, saltant_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No requests, no time.sleep anywhere on the async client's path."""
    inst = world.client.executable_task_instances.create(
        world.echo.id, world.queue.id, name=unique("noblock")
    )

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("blocking call on the async path")

    import time

    import requests

    monkeypatch.setattr(time, "sleep", forbidden)
    monkeypatch.setattr(requests.Session, "request", forbidden)
    async with _ac(saltant_server) as ac:
        mgr = ac.executable_task_instances
        await ac.test_authentication()
        await mgr.get(inst.uuid)
        await mgr.list_page({"name": inst.name})
        assert [i.uuid async for i in mgr.iter({"name": inst.name})] == [inst.uuid]
        done = await mgr.wait_until_finished(inst.uuid, refresh_period=0.05, timeout=30)
        assert done.state is TaskState.SUCCESSFUL
        await mgr.terminate(inst.uuid)
