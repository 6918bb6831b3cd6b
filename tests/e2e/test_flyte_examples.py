"""Flyte's raw-container examples (examples/flyte), unchanged, through the SDK on the real node: the
images are the local stand-ins under the public names (``localengine.mkimage``: busybox, this
machine's Python 3.11, Flyte's ellipse scripts), loaded into the node's containerd, so the
examples run as written; local File and Dir inputs are uploaded by the SDK and staged by the
downloader in a real pod."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import final_status

import containertask
import localcluster
from containertask import Dir, File, Phase
from containertask.sdk.client import Client
from containertask.storage import Storage
from examples.flyte.code_runner import python_code_runner
from examples.flyte.dir_io import shout_files
from examples.flyte.ellipse_python import calculate_ellipse_area_python
from examples.flyte.ellipse_shell import calculate_ellipse_area_shell
from examples.flyte.greeting import greeting_task
from localcluster import deploy, images, node
from localcluster.layout import Layout
from localengine import mkimage

pytestmark = pytest.mark.e2e

AREA = math.pi * 3 * 4
Submit = Callable[..., containertask.Run]


@pytest.fixture(scope="session")
def flyte_images(
    node_cluster: localcluster.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> list[str]:
    """The examples' images, made locally and imported into the node (only those it lacks)."""
    directory = tmp_path_factory.mktemp("flyte-images")
    made = [
        mkimage.busybox(),
        mkimage.python(),
        mkimage.shell_example(),
        mkimage.python_example(),
    ]
    loaded = [
        images.Image(image.tag, image.tag, mkimage.write_archive(image, directory / f"{n}.tar"))
        for n, image in enumerate(made)
    ]
    settings = localcluster.Settings()
    node.load_images(settings, Layout(settings.run_dir), loaded)
    return [image.ref for image in loaded]


@pytest.fixture
def submit(
    operator: Any,
    sdk_client: Client,
    storage: Storage,
    node_cluster: localcluster.Cluster,
    flyte_images: list[str],
) -> Submit:
    """Submit to the session's operator; local files go under the bucket's ``raw/``."""
    bucket = deploy.output_location(node_cluster).removeprefix("s3://").split("/")[0]
    context = containertask.with_runcontext(client=sdk_client, raw_data_path=f"s3://{bucket}/raw")

    def run(task: containertask.ContainerTask, **inputs: Any) -> containertask.Run:
        submitted = context.run(task, **inputs)
        assert isinstance(submitted, containertask.Run)
        return submitted

    return run


@pytest.mark.parametrize(
    ("task", "inputs", "expected"),
    [
        (
            calculate_ellipse_area_shell,
            {"a": 3.0, "b": 4.0},
            {"area": pytest.approx(AREA), "metadata": "[from shell rawcontainer]"},
        ),
        (
            calculate_ellipse_area_python,
            {"a": 3.0, "b": 4.0},
            {"area": pytest.approx(AREA), "metadata": "[from python rawcontainer]"},
        ),
        (greeting_task, {"name": "Ada"}, {"greeting": "Hello, my name is Ada."}),
    ],
    ids=["ellipse-shell", "ellipse-python", "greeting"],
)
def test_example_runs_in_a_real_container(
    submit: Submit,
    task: containertask.ContainerTask,
    inputs: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    run = submit(task, **inputs)
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    assert run.outputs() == expected


def test_code_runner_runs_the_uploaded_script(submit: Submit, tmp_path: Path) -> None:
    script = tmp_path / "add.py"
    script.write_text("import sys\nprint(int(sys.argv[1]) + int(sys.argv[2]))\n")
    run = submit(python_code_runner, **{"script.py": File.from_local(script), "a": 3, "b": 4})
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    assert run.outputs() == {"result": 7}


def test_dir_in_dir_out(submit: Submit, storage: Storage, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello\n")
    (docs / "b.txt").write_text("world\n")
    run = submit(shout_files, docs=Dir.from_local(docs))
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    out = run.outputs()
    assert out["count"] == 2
    shouted = out["shouted"].uri.rstrip("/") + "/"
    files = {uri.removeprefix(shouted): storage.read_bytes(uri) for uri in storage.list(shouted)}
    assert files == {"a.txt": b"HELLO\n", "b.txt": b"WORLD\n"}
