"""Every public name and signature of saltant-py 0.4.0 exists on our client, compatibly."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import saltant.client
import saltant.exceptions
import saltant.models.container_task_instance as s_cti
import saltant.models.container_task_type as s_ctt
import saltant.models.executable_task_instance as s_eti
import saltant.models.executable_task_type as s_ett
import saltant.models.task_queue as s_tq
import saltant.models.task_whitelist as s_tw
import saltant.models.user as s_user

import saltant_provider.client as ours
from saltant_provider.client import managers, models
from saltant_provider.client import sync as ours_sync

PAIRS: list[tuple[Any, Any]] = [
    (saltant.client.Client, ours.Client),
    (s_cti.ContainerTaskInstanceManager, managers.ContainerTaskInstanceManager),
    (s_eti.ExecutableTaskInstanceManager, managers.ExecutableTaskInstanceManager),
    (s_ctt.ContainerTaskTypeManager, managers.ContainerTaskTypeManager),
    (s_ett.ExecutableTaskTypeManager, managers.ExecutableTaskTypeManager),
    (s_tq.TaskQueueManager, managers.TaskQueueManager),
    (s_tw.TaskWhitelistManager, managers.TaskWhitelistManager),
    (s_user.UserManager, managers.UserManager),
    (s_cti.ContainerTaskInstance, models.ContainerTaskInstance),
    (s_eti.ExecutableTaskInstance, models.ExecutableTaskInstance),
    (s_ctt.ContainerTaskType, models.ContainerTaskType),
    (s_ett.ExecutableTaskType, models.ExecutableTaskType),
    (s_tq.TaskQueue, models.TaskQueue),
    (s_tw.TaskWhitelist, models.TaskWhitelist),
    (s_user.User, models.User),
]


def _public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member) and name != "model"
    }


@pytest.mark.parametrize(("theirs", "mine"), PAIRS, ids=lambda c: c.__qualname__)
def test_methods_and_parameters_match(theirs: type, mine: type) -> None:
    for name, their_fn in _public_methods(theirs).items():
        assert hasattr(mine, name), f"{mine.__name__}.{name} is missing"
        their_sig = inspect.signature(their_fn)
        my_sig = inspect.signature(getattr(mine, name))
        their_params = list(their_sig.parameters.values())
        my_params = list(my_sig.parameters.values())
        # Same names in the same order, same defaults; ours may add keyword extras at the end.
        assert [p.name for p in my_params[: len(their_params)]] == [p.name for p in their_params], (
            f"{mine.__name__}.{name}{my_sig} vs saltant-py {their_sig}"
        )
        for theirs_p, mine_p in zip(their_params, my_params, strict=False):
            assert theirs_p.default == mine_p.default, f"{mine.__name__}.{name}({mine_p.name})"
        for extra in my_params[len(their_params) :]:
            assert extra.default is not inspect.Parameter.empty or extra.kind in (
                inspect.Parameter.VAR_KEYWORD,
                inspect.Parameter.KEYWORD_ONLY,
            ), f"{mine.__name__}.{name}: extra parameter {extra.name} needs a default"


def test_model_fields_match() -> None:
    for theirs, mine in PAIRS:
        if theirs.__module__.startswith("saltant.models") and not theirs.__name__.endswith(
            "Manager"
        ):
            fields = [p for p in inspect.signature(theirs.__init__).parameters if p != "self"]
            assert set(fields) <= set(inspect.signature(mine).parameters), mine.__name__


def test_client_managers_and_module_names() -> None:
    client = ours.Client("http://127.0.0.1:9/api", "t", test_if_authenticated=False)
    for name in [
        "container_task_instances",
        "container_task_types",
        "executable_task_instances",
        "executable_task_types",
        "task_queues",
        "task_whitelists",
        "users",
        "session",
        "base_api_url",
    ]:
        assert hasattr(client, name)
    assert ours_sync.from_env.__func__ is ours.Client.from_env.__func__  # type: ignore[attr-defined]
    from saltant_provider.client import exceptions

    for name in ["BadEnvironmentError", "BadHttpRequestError", "AuthenticationError"]:
        assert issubclass(getattr(exceptions, name), Exception)
        assert hasattr(saltant.exceptions, name)
    assert issubclass(exceptions.AuthenticationError, exceptions.BadHttpRequestError)


def test_saltant_py_helpers(saltant_server: Any) -> None:
    c = ours.Client(saltant_server.url, saltant_server.token)
    mgr = c.users
    assert mgr.list_url == "users/" and mgr.detail_url == "users/{id}/"
    assert c.executable_task_instances.clone_url == "executabletaskinstances/{id}/clone/"
    user = mgr.response_data_to_model_instance({"username": "x", "email": "", "new": 1})
    assert user.username == "x" and user.manager is mgr
    page = {"count": 1, "next": None, "results": [{"username": "y", "email": "e"}]}
    assert [u.username for u in mgr.response_data_to_model_instances_list(page)] == ["y"]
    mgr.validate_request_success("{}", saltant_server.url, 200, 200)
    with pytest.raises(ours.BadHttpRequestError, match="Not found"):
        mgr.validate_request_success('{"detail": "Not found."}', saltant_server.url, 404, 200)
