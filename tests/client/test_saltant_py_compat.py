"""Code written for saltant-py runs on our client after changing only the import line.

One script text, run twice in a subprocess against the local server: once with
``from saltant.client import Client`` (saltant-py 0.4.0) and once with
``from saltant_provider.client import Client``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

SCRIPT = """
import os
from saltant.client import Client

suffix = os.environ["COMPAT_SUFFIX"]
client = Client(base_api_url=os.environ["SALTANT_API_URL"],
                auth_token=os.environ["SALTANT_AUTH_TOKEN"])

task_type = client.executable_task_types.create(
    name="compat-echo-" + suffix,
    command_to_run="echo",
    description="says hello",
    required_arguments=["msg"],
    required_arguments_default_values={"msg": "hi"},
)
whitelist = client.task_whitelists.create(
    name="compat-wl-" + suffix,
    whitelisted_executable_task_types=[task_type.id],
)
queue = client.task_queues.create(name="compat-q-" + suffix, whitelists=[whitelist.id])
assert client.task_queues.get(name=queue.name).id == queue.id
assert client.executable_task_types.get(id=task_type.id).name == task_type.name

instance = client.executable_task_instances.create(
    task_type_id=task_type.id,
    task_queue_id=queue.id,
    arguments={"msg": "hello"},
    name="compat-run-" + suffix,
)
finished = client.executable_task_instances.wait_until_finished(instance.uuid, refresh_period=0.1)
assert finished.state == "successful", finished.state

clone = finished.clone()
assert clone.name == instance.name and clone.arguments == {"msg": "hello"}
told = clone.terminate()
assert told.uuid == clone.uuid
clone.wait_until_finished(refresh_period=0.1)

runs = client.executable_task_instances.list(filters={"name": "compat-run-" + suffix})
assert sorted(r.uuid for r in runs) == sorted([instance.uuid, clone.uuid]), runs
ok = client.executable_task_instances.list(
    filters={"name": "compat-run-" + suffix, "state": "successful"}
)
assert instance.uuid in [r.uuid for r in ok]

queue = client.task_queues.patch(id=queue.id, description="patched")
assert queue.description == "patched"
print("COMPAT OK", type(client).__module__)
"""

IMPORTS = {
    "saltant-py": "from saltant.client import Client",
    "saltant_provider": "from saltant_provider.client import Client",
}


def test_script_differs_only_in_its_import_line() -> None:
    ours = SCRIPT.replace(IMPORTS["saltant-py"], IMPORTS["saltant_provider"])
    diff = [(a, b) for a, b in zip(SCRIPT.splitlines(), ours.splitlines(), strict=False) if a != b]
    assert diff == [(IMPORTS["saltant-py"], IMPORTS["saltant_provider"])]


@pytest.mark.parametrize("library", ["saltant-py", "saltant_provider"])
def test_saltant_py_script_runs(library: str, saltant_server: Any) -> None:
    source = SCRIPT.replace(IMPORTS["saltant-py"], IMPORTS[library])
    env = {
        **os.environ,
        "SALTANT_API_URL": saltant_server.url,
        "SALTANT_AUTH_TOKEN": saltant_server.token,
        "COMPAT_SUFFIX": uuid.uuid4().hex[:10],
    }
    result = subprocess.run(
        [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    module = "saltant.client" if library == "saltant-py" else "saltant_provider.client.sync"
    assert f"COMPAT OK {module}" in result.stdout
