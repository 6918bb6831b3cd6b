"""Only one real node per machine: a second run directory is refused before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

import localcluster

pytestmark = pytest.mark.e2e


def test_a_second_real_node_is_refused_naming_the_run_dir_that_has_it(
    node_cluster: localcluster.Cluster, tmp_path: Path
) -> None:
    other = localcluster.Settings(run_dir=tmp_path / "run", real_node=True)
    with pytest.raises(localcluster.ClusterError) as refused:
        localcluster.up(other)
    message = str(refused.value)
    assert f"runs from {node_cluster.run_dir}" in message
    assert "--kwok-only" in message
    assert not list((tmp_path / "run" / "pids").iterdir())  # nothing was started
