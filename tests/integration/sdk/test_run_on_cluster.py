"""Runs on a real apiserver with no operator: submit, status, cancel, and ``wait`` driven by
patching the status subresource the way the operator does, proving outputs come back typed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config
from kubernetes.client.exceptions import ApiException

import containertask
import localcluster
from containertask import ContainerTask, Directory, File, Phase, cli
from containertask.api import values
from containertask.sdk.client import Client
from containertask.storage import Storage

pytestmark = pytest.mark.integration

TASK = ContainerTask(
    name="ellipse_area",
    image="busybox:1.36",
    command=["sh", "-c", "echo {{.inputs.a}} {{.inputs.b}}"],
    inputs={"a": float, "b": float},
    outputs={
        "area": float,
        "when": datetime,
        "took": timedelta,
        "report": File,
        "parts": list[Directory],
        "scores": dict[str, int],
    },
)
INLINE = {
    "area": 37.7,
    "when": "2024-05-01T12:00:00Z",
    "took": 1.5,
    "report": "s3://bucket/runs/report.txt",
}
TYPED = {
    "area": 37.7,
    "when": datetime(2024, 5, 1, 12, tzinfo=UTC),
    "took": timedelta(seconds=1.5),
    "report": File("s3://bucket/runs/report.txt"),
}
STORED = {"parts": [Directory("s3://bucket/runs/p1/")], "scores": {"x": 1, "y": 2}}


@pytest.fixture
def operator_stand_in(cluster: localcluster.Cluster, crd: str) -> Iterator[Client]:
    """A second client, as the operator would have, that writes status through the API."""
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(cluster.kubeconfig)
    )
    yield Client(api)
    api.close()


def write_statuses(
    client: Client, name: str, namespace: str, statuses: list[dict[str, Any]]
) -> threading.Thread:
    def patch() -> None:
        for status in statuses:
            time.sleep(0.3)
            client.patch_status(name, namespace, status)

    thread = threading.Thread(target=patch, daemon=True)
    thread.start()
    return thread


def submit(sdk_client: Client, **inputs: Any) -> containertask.Run:
    run = containertask.with_runcontext(client=sdk_client).run(TASK, **inputs)
    assert isinstance(run, containertask.Run)
    return run


def test_submit_creates_a_pending_run_and_status_reads_it_back(
    sdk_client: Client, namespace: str
) -> None:
    run = submit(sdk_client, a=3.0, b=4.0)
    assert run.namespace == namespace
    assert run.name.startswith("ellipse-area-") and len(run.name) <= 63
    status = run.status()
    assert status.phase is Phase.PENDING and status.attempts == ()
    assert run.spec() == TASK.spec(a=3.0, b=4.0)
    with pytest.raises(containertask.RunNotFinishedError, match="no outputs yet"):
        run.outputs()
    with pytest.raises(containertask.RunNotFinishedError, match="has not started a pod yet"):
        run.logs()
    with pytest.raises(containertask.RunTimeoutError, match="still Pending"):
        run.wait(timeout=1)


def test_each_submission_is_a_new_run_unless_named(sdk_client: Client, namespace: str) -> None:
    first, second = submit(sdk_client, a=1.0, b=2.0), submit(sdk_client, a=1.0, b=2.0)
    assert first.name != second.name
    assert first.name[:-6] == second.name[:-6]  # same task and inputs: same <task>-<hash>
    named = containertask.with_runcontext(name="chosen", client=sdk_client).run(TASK, a=1.0, b=2.0)
    assert named.name == "chosen"


def test_cancel_sets_spec_cancel(sdk_client: Client, namespace: str) -> None:
    run = submit(sdk_client, a=1.0, b=2.0)
    run.cancel()
    assert sdk_client.get(run.name, namespace)["spec"]["cancel"] is True


def test_wait_follows_status_and_returns_typed_outputs(
    sdk_client: Client,
    namespace: str,
    operator_stand_in: Client,
    cluster: localcluster.Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    outputs_uri = f"s3://{cluster.s3_bucket}/sdk-tests/{uuid.uuid4().hex}/outputs.pb"
    literal_map = values.to_literal_map(TASK.output_types, STORED)
    Storage().write_bytes(outputs_uri, literal_map.SerializeToString())

    run = submit(sdk_client, a=3.0, b=4.0)
    attempt_1 = {"number": 1, "pod": f"{run.name}-1"}
    attempt_2 = {"number": 2, "pod": f"{run.name}-2"}
    writer = write_statuses(
        operator_stand_in,
        run.name,
        namespace,
        [
            {"phase": "Running", "attempts": [attempt_1]},
            {"phase": "Running", "attempts": [{**attempt_1, "exitCode": 1}, attempt_2]},
            {
                "phase": "Succeeded",
                "attempts": [{**attempt_1, "exitCode": 1}, {**attempt_2, "exitCode": 0}],
                "outputs": INLINE,
                "storedOutputs": ["parts", "scores"],
                "outputsUri": outputs_uri,
            },
        ],
    )
    seen: list[tuple[Phase, int]] = []
    status = run.wait(timeout=60, progress=lambda s: seen.append((s.phase, len(s.attempts))))
    writer.join()
    assert status.phase is Phase.SUCCEEDED
    assert seen == [
        (Phase.PENDING, 0),
        (Phase.RUNNING, 1),
        (Phase.RUNNING, 2),
        (Phase.SUCCEEDED, 2),
    ]
    assert run.outputs() == {**TYPED, **STORED}


def test_wait_raises_with_phase_reason_message_and_exit_code(
    sdk_client: Client, namespace: str, operator_stand_in: Client
) -> None:
    run = submit(sdk_client, a=3.0, b=4.0)
    write_statuses(
        operator_stand_in,
        run.name,
        namespace,
        [
            {
                "phase": "Failed",
                "reason": "OOMKilled",
                "message": "main used more than its memory limit",
                "attempts": [{"number": 1, "pod": f"{run.name}-1", "exitCode": 137}],
            }
        ],
    )
    with pytest.raises(containertask.RunFailedError) as info:
        run.wait(timeout=60)
    err = info.value
    assert (err.phase, err.reason, err.exit_code) == (Phase.FAILED, "OOMKilled", 137)
    assert err.message == "main used more than its memory limit"
    assert f"{namespace}/{run.name} Failed" in str(err)


def test_async_submit_and_wait(
    sdk_client: Client, namespace: str, operator_stand_in: Client
) -> None:
    async def main() -> dict[str, Any]:
        run = await containertask.with_runcontext(client=sdk_client).arun(TASK, a=1.0, b=1.0)
        assert isinstance(run, containertask.Run)
        write_statuses(
            operator_stand_in,
            run.name,
            namespace,
            [{"phase": "Succeeded", "outputs": {**INLINE, "parts": [], "scores": {}}}],
        )
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        tick = asyncio.create_task(ticker())
        await run.wait_async(timeout=60)
        tick.cancel()
        assert ticks > 5  # the loop kept running while waiting
        return run.outputs()

    assert asyncio.run(main()) == {**TYPED, "parts": [], "scores": {}}


@pytest.fixture
def task_file(
    cluster: localcluster.Cluster, crd: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], Path]:
    """Writes a module of tasks for the CLI to load; the CLI finds the cluster by KUBECONFIG."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))

    def write(source: str) -> Path:
        module = tmp_path / "tasks.py"
        module.write_text("import containertask\n" + source)
        return module

    return write


def test_cli_run_status_and_outputs(
    cluster: localcluster.Cluster,
    namespace: str,
    operator_stand_in: Client,
    task_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = task_file(
        "echo = containertask.ContainerTask('echo', 'busybox', 'echo {{.inputs.n}}',\n"
        "    inputs={'n': int, 'xs': list[float]}, outputs={'n': int})\n"
    )
    argv = ["run", f"{module}:echo", "-i", "n=7", "-i", "xs=[1, 2.5]", "-n", namespace]
    assert cli.main([*argv, "--no-wait"]) == 0
    name = capsys.readouterr().out.strip()
    stored = json.loads(cluster.kubectl("get", "ct", name, "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["inputs"] == [
        {"name": "n", "type": "int", "value": 7},
        {"name": "xs", "type": "list[float]", "value": [1.0, 2.5]},
    ]

    assert cli.main(["status", name, "-n", namespace]) == 0
    assert capsys.readouterr().out == f"{name}: Pending\n"

    operator_stand_in.patch_status(
        name,
        namespace,
        {
            "phase": "Succeeded",
            "outputs": {"n": 7},
            "attempts": [{"number": 1, "pod": f"{name}-1", "exitCode": 0}],
        },
    )
    assert cli.main(["outputs", name, "-n", namespace]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 7}
    assert cli.main(["status", name, "-n", namespace, "-o", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["phase"] == "Succeeded"

    operator_stand_in.patch_status(name, namespace, {"phase": "Failed", "reason": "Error"})
    assert cli.main(["outputs", name, "-n", namespace]) == 1
    assert f"{name} Failed" in capsys.readouterr().err


ATTEMPT = {"number": 1, "pod": "cli-run-1"}
CLI_ENDINGS = [
    (
        {"phase": "Succeeded", "outputs": {"o": 5}, "attempts": [{**ATTEMPT, "exitCode": 0}]},
        0,
        {"o": 5},
        "cli-run: Succeeded (attempt 1, exit code 0)",
    ),
    (
        {
            "phase": "Failed",
            "reason": "Error",
            "message": "main exited with 1",
            "attempts": [{**ATTEMPT, "exitCode": 1}],
        },
        1,
        None,
        "error: ContainerTask {namespace}/cli-run Failed after 1 attempt(s) "
        "(reason=Error, exit code 1): main exited with 1",
    ),
]


@pytest.mark.parametrize(
    ("final", "code", "outputs", "last_line"), CLI_ENDINGS, ids=["succeeded", "failed"]
)
def test_cli_run_follows_the_run_and_exits_with_its_outcome(
    namespace: str,
    operator_stand_in: Client,
    task_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    final: dict[str, Any],
    code: int,
    outputs: Any,
    last_line: str,
) -> None:
    module = task_file(
        "t = containertask.ContainerTask('t', 'busybox', 'true', outputs={'o': int})\n"
    )

    def operate_once_created() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                operator_stand_in.patch_status(
                    "cli-run", namespace, {"phase": "Running", "attempts": [ATTEMPT]}
                )
                break
            except ApiException:
                time.sleep(0.1)  # not created yet
        time.sleep(0.3)
        operator_stand_in.patch_status("cli-run", namespace, final)

    thread = threading.Thread(target=operate_once_created, daemon=True)
    thread.start()
    argv = ["run", f"{module}:t", "--name", "cli-run", "-n", namespace, "--timeout", "60"]
    assert cli.main(argv) == code
    thread.join()
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert "cli-run: Running (attempt 1)" in lines
    assert lines[-1] == last_line.format(namespace=namespace)
    assert (json.loads(out) if out else None) == outputs
