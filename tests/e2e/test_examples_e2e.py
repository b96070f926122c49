"""The shipped example DAGs run green against the local saltant server (with the demo setup)."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import EXAMPLES

pytestmark = pytest.mark.e2e

EXAMPLE_DAGS = sorted(p for p in EXAMPLES.glob("saltant_*.py") if p.stem != "saltant_demo_setup")


def test_every_example_file_passes_safe_mode() -> None:
    assert EXAMPLE_DAGS
    for path in EXAMPLE_DAGS:
        text = path.read_text().lower()
        assert "airflow" in text and "dag" in text, path


@pytest.mark.parametrize("path", EXAMPLE_DAGS, ids=lambda p: p.stem)
def test_example_dag_succeeds(run_dag: Any, path: Any) -> None:
    result = run_dag(path.stem, path=path)
    assert result.state == "success", {k: result.ti_state(k) for k in result.tis}
    assert all(result.ti_state(k) == "success" for k in result.tis)
    if path.stem == "saltant_mapped":
        assert sorted(result.tis) == ["echo_each[0]", "echo_each[1]", "echo_each[2]"]
        uuids = {result.xcom("echo_each", map_index=i) for i in range(3)}
        assert len(uuids) == 3
    if path.stem == "saltant_deferrable":  # the downstream task is gated on both waits
        assert result.ti_state("downstream") == "success"
        assert result.xcom("downstream") == (
            f"saltant jobs {result.xcom('run_deferred')} and {result.xcom('create')} succeeded"
        )
