"""Flyte's raw-container examples (examples/flyte), unchanged but for the import, submitted to the
real apiserver and run by the operator on kwok nodes: the pod is what Flyte would run (the image's
ENTRYPOINT kept, command + arguments rendered as args, File/Dir inputs uploaded and staged by the
downloader), and the uploader's report comes back as typed outputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from operatorkit import Operator, Tasks

import containertask
import localcluster
from containertask import ContainerTask, Dir, File, PodTemplate
from containertask.api import CopilotConfig, UploadResult
from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.sdk.client import Client
from examples.flyte.code_runner import python_code_runner
from examples.flyte.dir_io import shout_files
from examples.flyte.ellipse_python import calculate_ellipse_area_python
from examples.flyte.ellipse_shell import calculate_ellipse_area_shell
from examples.flyte.greeting import greeting_task
from localcluster import kwok

pytestmark = pytest.mark.integration

AREA = math.pi * 3 * 4


def on_kwok(task: ContainerTask, outputs: dict[str, Any] | None = None) -> ContainerTask:
    """``task`` placed on a kwok node; with ``outputs``, kwok's outcome is that the uploader
    reports them (kwok runs no container)."""
    annotations = {}
    if outputs is not None:
        message = UploadResult(ok=True, outputs=outputs).to_message()
        annotations["sim.containertask.io/message.uploader"] = message
    template = PodTemplate(pod_spec=kwok.on_kwok({}), annotations=annotations)
    return task.override(pod_template=template)


@pytest.fixture
def submit(
    start_operator: Callable[..., Operator],
    cluster: localcluster.Cluster,
    api_client: Any,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., containertask.Run]:
    env = cluster.env()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.setenv(key, env[key])
    bucket = env["CONTAINERTASK_TEST_BUCKET"]
    start_operator(f"--output-location=s3://{bucket}/runs")
    context = containertask.with_runcontext(
        client=Client(api_client, namespace), raw_data_path=f"s3://{bucket}/raw"
    )

    def run(task: ContainerTask, **inputs: Any) -> containertask.Run:
        return context.submit(task, **inputs)

    return run


def main_and_config(tasks: Tasks) -> tuple[Any, CopilotConfig]:
    (pod,) = tasks.pods()
    main = next(c for c in pod.spec.containers if c.name == "main")
    downloader = next(c for c in pod.spec.init_containers if c.name == "downloader")
    env = {e.name: e.value for e in downloader.env}
    return main, CopilotConfig.from_json(env[COPILOT_CONFIG_ENV])


@pytest.mark.parametrize(
    ("task", "args", "outputs", "expected"),
    [
        (
            calculate_ellipse_area_shell,
            ["./calculate-ellipse-area.sh", "3", "4", "/var/outputs"],
            {"area": AREA, "metadata": "[from shell rawcontainer]"},
            {"area": AREA, "metadata": "[from shell rawcontainer]"},
        ),
        (
            calculate_ellipse_area_python,
            ["python", "calculate-ellipse-area.py", "3", "4", "/var/outputs"],
            {"area": AREA, "metadata": "[from python rawcontainer]"},
            {"area": AREA, "metadata": "[from python rawcontainer]"},
        ),
        (
            greeting_task,
            ["/bin/sh", "-c", "echo 'Hello, my name is 3.' | tee -a /var/outputs/greeting"],
            {"greeting": "Hello, my name is 3."},
            {"greeting": "Hello, my name is 3."},
        ),
    ],
    ids=["ellipse-shell", "ellipse-python", "greeting"],
)
def test_example_runs_with_its_pod_rendered_as_flyte_does(
    submit: Callable[..., containertask.Run],
    tasks: Tasks,
    task: ContainerTask,
    args: list[str],
    outputs: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    inputs = {"name": "3"} if "name" in task.input_types else {"a": 3, "b": 4}
    run = submit(on_kwok(task, outputs), **inputs)
    run.wait(timeout=60)
    assert run.outputs() == expected
    main, _ = main_and_config(tasks)
    assert main.image == task.image
    assert main.command is None  # the image's ENTRYPOINT runs command + arguments
    assert main.args == args


def test_code_runner_uploads_the_local_script_and_the_downloader_stages_it(
    submit: Callable[..., containertask.Run], tasks: Tasks, tmp_path: Path
) -> None:
    script = tmp_path / "add.py"
    script.write_text("import sys\nprint(int(sys.argv[1]) + int(sys.argv[2]))\n")
    run = submit(
        on_kwok(python_code_runner, {"result": 7}),
        **{"script.py": File.from_local(script), "a": 3, "b": 4},
    )
    assert run.wait(timeout=60) and run.outputs() == {"result": 7}
    uri = next(i.uri for i in run.spec().inputs if i.name == "script.py")
    assert uri is not None and uri.startswith("s3://") and uri.endswith("/script.py/add.py")
    from containertask.storage import Storage

    assert Storage().read_bytes(uri) == script.read_bytes()
    main, config = main_and_config(tasks)
    assert main.args == [
        "/bin/sh",
        "-c",
        "python /var/inputs/script.py 3 4 > /var/outputs/result",
    ]
    assert {i.name: i.uri for i in config.inputs}["script.py"] == uri


def test_dir_input_is_uploaded_and_the_pod_mounts_the_data_dirs(
    submit: Callable[..., containertask.Run], tasks: Tasks, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    run = submit(on_kwok(shout_files), docs=Dir.from_local(docs))
    tasks.wait(run.name, lambda status: bool(status.get("attempts")), timeout=60)
    main, config = main_and_config(tasks)
    uri = {i.name: i.uri for i in config.inputs}["docs"]
    assert uri is not None and uri.startswith("s3://")
    from containertask.storage import Storage

    assert Storage().list(uri) == [f"{uri.rstrip('/')}/a.txt"]
    assert [m.mount_path for m in main.volume_mounts][:2] == ["/var/inputs", "/var/outputs"]
    assert main.command is None and main.args[0] == "/bin/sh"
