"""Run: waiting through watch events (410, bookmarks, deletion), failures, typed outputs.

The cluster side is a scripted stand-in for the one module that calls the API
(``containertask.sdk.client``); tests/integration/sdk runs the same paths on a real apiserver.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

import containertask
from containertask import ContainerTask, Directory, File, Phase
from containertask.api import TaskStatus, values
from containertask.sdk.run import Run, progress_line

pytestmark = pytest.mark.unit

TASK = ContainerTask(
    "area",
    "busybox",
    "true",
    inputs={"a": float},
    outputs={"area": float, "when": datetime, "report": File, "parts": list[Directory]},
)


def resource(version: int, status: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = TASK.manifest(TASK.spec(a=1.0), "area-1", "ns")
    doc["metadata"]["resourceVersion"] = str(version)
    if status is not None:
        doc["status"] = status
    return doc


ATTEMPT_1 = {"number": 1, "pod": "area-1-1"}
FAILED_1 = {**ATTEMPT_1, "exitCode": 3, "reason": "Error"}
ATTEMPT_2 = {"number": 2, "pod": "area-1-2"}
OUTPUTS: dict[str, Any] = {
    "area": 12.5,
    "when": "2024-05-01T12:00:00Z",
    "report": "s3://b/out/report",
    "parts": ["s3://b/out/p1/", "s3://b/out/p2/"],
}
SUCCEEDED: dict[str, Any] = {
    "phase": "Succeeded",
    "attempts": [FAILED_1, ATTEMPT_2],
    "outputs": OUTPUTS,
}


class ScriptedClient:
    """Serves ``get`` from the latest object and each ``watch`` call from the next script entry
    (a list of events, or an exception to raise)."""

    namespace = "ns"

    def __init__(self, current: dict[str, Any], watches: list[Any] | None = None) -> None:
        self.current = current
        self.revision = int(current["metadata"]["resourceVersion"])
        self.watches = list(watches or [])
        self.watch_calls: list[tuple[str, int]] = []
        self.cancelled = False
        self.logs_of: list[tuple[str, str]] = []

    def get(self, name: str, namespace: str) -> dict[str, Any]:
        return copy.deepcopy(self.current)

    def get_current(self, name: str, namespace: str) -> tuple[dict[str, Any] | None, str]:
        return copy.deepcopy(self.current), str(self.revision)

    def watch(self, name: str, namespace: str, version: str, seconds: int) -> Iterator[Any]:
        self.watch_calls.append((version, seconds))
        script = self.watches.pop(0) if self.watches else []
        if isinstance(script, Exception):
            raise script
        for kind, obj in script:
            self.revision = int(obj["metadata"]["resourceVersion"])
            if kind != "BOOKMARK":
                self.current = obj
            yield kind, copy.deepcopy(obj)

    def cancel(self, name: str, namespace: str) -> dict[str, Any]:
        self.cancelled = True
        return self.current

    def pod_logs(self, pod: str, namespace: str, container: str) -> str:
        self.logs_of.append((pod, container))
        return f"logs of {pod}/{container}\n"


def make_run(client: ScriptedClient) -> Run:
    return Run("area-1", "ns", client)  # type: ignore[arg-type]


def test_wait_follows_changes_and_reports_each_phase_and_attempt_once() -> None:
    client = ScriptedClient(
        resource(1),
        [
            [
                ("MODIFIED", resource(2, {"phase": "Pending", "attempts": [ATTEMPT_1]})),
                ("MODIFIED", resource(3, {"phase": "Running", "attempts": [ATTEMPT_1]})),
                ("MODIFIED", resource(4, {"phase": "Running", "attempts": [ATTEMPT_1]})),
                ("MODIFIED", resource(5, {"phase": "Running", "attempts": [FAILED_1, ATTEMPT_2]})),
                ("MODIFIED", resource(6, SUCCEEDED)),
            ]
        ],
    )
    seen: list[tuple[Phase, int]] = []
    status = make_run(client).wait(progress=lambda s: seen.append((s.phase, len(s.attempts))))
    assert status.phase is Phase.SUCCEEDED
    assert seen == [
        (Phase.PENDING, 0),
        (Phase.PENDING, 1),
        (Phase.RUNNING, 1),
        (Phase.RUNNING, 2),
        (Phase.SUCCEEDED, 2),
    ]
    assert client.watch_calls == [("1", 300)]


def test_wait_resumes_from_the_last_version_and_lists_again_after_410() -> None:
    client = ScriptedClient(
        resource(1),
        [
            [("MODIFIED", resource(2, {"phase": "Running"})), ("BOOKMARK", resource(7))],
            ApiException(status=410, reason="Expired: too old resource version"),
            [],
            [("MODIFIED", resource(9, SUCCEEDED))],
        ],
    )
    make_run(client).wait()
    # resumed from the bookmark's version; after 410 it listed again (revision 7, although the
    # object itself last changed at version 2)
    assert [v for v, _ in client.watch_calls] == ["1", "7", "7", "7"]


def test_other_api_errors_are_not_swallowed() -> None:
    client = ScriptedClient(resource(1), [ApiException(status=403, reason="Forbidden")])
    with pytest.raises(ApiException, match="Forbidden"):
        make_run(client).wait()


def test_failure_raises_with_phase_reason_message_and_exit_code() -> None:
    failed = {
        "phase": "Failed",
        "reason": "RetriesExhausted",
        "message": "main exited with 3",
        "attempts": [FAILED_1],
    }
    client = ScriptedClient(resource(1), [[("MODIFIED", resource(2, failed))]])
    with pytest.raises(containertask.RunFailedError) as info:
        make_run(client).wait()
    err = info.value
    assert (err.phase, err.reason, err.message, err.exit_code) == (
        Phase.FAILED,
        "RetriesExhausted",
        "main exited with 3",
        3,
    )
    assert str(err) == (
        "ContainerTask ns/area-1 Failed after 1 attempt(s) "
        "(reason=RetriesExhausted, exit code 3): main exited with 3"
    )


def test_cancelled_runs_raise_too() -> None:
    client = ScriptedClient(resource(1, {"phase": "Cancelled", "reason": "Cancelled"}))
    with pytest.raises(containertask.RunFailedError, match="Cancelled"):
        make_run(client).wait()


def test_deletion_while_waiting_is_an_error() -> None:
    client = ScriptedClient(resource(1), [[("DELETED", resource(2))]])
    with pytest.raises(containertask.RunDeletedError, match="ns/area-1 was deleted"):
        make_run(client).wait()


def test_timeout_bounds_the_wait_and_each_watch() -> None:
    client = ScriptedClient(resource(1, {"phase": "Running"}))
    start = time.monotonic()
    with pytest.raises(containertask.RunTimeoutError, match=r"still Running after 0\.01s"):
        make_run(client).wait(timeout=0.01)
    assert time.monotonic() - start < 5
    assert all(seconds == 1 for _, seconds in client.watch_calls)


def test_outputs_are_typed_values() -> None:
    outputs = make_run(ScriptedClient(resource(1, SUCCEEDED))).outputs()
    assert outputs == {
        "area": 12.5,
        "when": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "report": File("s3://b/out/report"),
        "parts": [Directory("s3://b/out/p1/"), Directory("s3://b/out/p2/")],
    }
    assert list(outputs) == ["area", "when", "report", "parts"]


def test_stored_outputs_are_read_from_outputs_pb(tmp_path: Path) -> None:
    stored = {"when": datetime(2030, 1, 2, tzinfo=UTC), "parts": [Directory("s3://b/p/")]}
    literal_map = values.to_literal_map(TASK.output_types, stored)
    (tmp_path / "outputs.pb").write_bytes(literal_map.SerializeToString())
    status = {
        **SUCCEEDED,
        "outputs": {"area": 1.5, "report": "s3://b/r"},
        "storedOutputs": ["when", "parts"],
        "outputsUri": f"file://{tmp_path}/outputs.pb",
    }
    outputs = make_run(ScriptedClient(resource(1, status))).outputs()
    assert outputs == {
        "area": 1.5,
        "when": stored["when"],
        "report": File("s3://b/r"),
        "parts": stored["parts"],
    }


def test_a_declared_output_missing_from_the_status_is_named() -> None:
    status = {**SUCCEEDED, "outputs": {k: v for k, v in OUTPUTS.items() if k != "report"}}
    with pytest.raises(
        containertask.SpecError, match=r"status\.outputs\.report: declared output missing"
    ):
        make_run(ScriptedClient(resource(1, status))).outputs()


def test_outputs_of_a_wrong_type_are_named() -> None:
    status = {**SUCCEEDED, "outputs": {**OUTPUTS, "area": "big"}}
    with pytest.raises(
        containertask.SpecError, match=r"status\.outputs\.area: expected a value of type float"
    ):
        make_run(ScriptedClient(resource(1, status))).outputs()


def test_outputs_before_the_end_or_after_failure() -> None:
    with pytest.raises(containertask.RunNotFinishedError, match="is Running: no outputs yet"):
        make_run(ScriptedClient(resource(1, {"phase": "Running"}))).outputs()
    with pytest.raises(containertask.RunFailedError):
        make_run(ScriptedClient(resource(1, {"phase": "Failed"}))).outputs()


def test_logs_come_from_the_latest_attempt() -> None:
    client = ScriptedClient(resource(1, SUCCEEDED))
    assert make_run(client).logs() == "logs of area-1-2/main\n"
    make_run(client).logs("uploader")
    assert client.logs_of == [("area-1-2", "main"), ("area-1-2", "uploader")]
    with pytest.raises(containertask.RunNotFinishedError, match="has not started a pod yet"):
        make_run(ScriptedClient(resource(1))).logs()


def test_cancel_asks_the_operator() -> None:
    client = ScriptedClient(resource(1))
    make_run(client).cancel()
    assert client.cancelled


class SlowClient(ScriptedClient):
    def watch(self, name: str, namespace: str, version: str, seconds: int) -> Iterator[Any]:
        time.sleep(0.3)
        yield "MODIFIED", resource(2, SUCCEEDED)


def test_wait_async_leaves_the_event_loop_free() -> None:
    async def main() -> tuple[TaskStatus, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.create_task(ticker())
        status = await make_run(SlowClient(resource(1))).wait_async()
        tick.cancel()
        return status, ticks

    status, ticks = asyncio.run(main())
    assert status.phase is Phase.SUCCEEDED
    assert ticks >= 10


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ({}, "r: Pending"),
        ({"phase": "Running", "attempts": [ATTEMPT_1]}, "r: Running (attempt 1)"),
        (
            {
                "phase": "Failed",
                "reason": "OOMKilled",
                "message": "out of memory",
                "attempts": [{**ATTEMPT_1, "exitCode": 137}],
            },
            "r: Failed (attempt 1, exit code 137) OOMKilled: out of memory",
        ),
    ],
    ids=["pending", "running", "failed"],
)
def test_progress_lines(status: dict[str, Any], line: str) -> None:
    assert progress_line("r", TaskStatus.from_dict(status)) == line


def test_printed_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    client = ScriptedClient(resource(1), [[("MODIFIED", resource(2, SUCCEEDED))]])
    make_run(client).wait(progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err == ["area-1: Pending", "area-1: Succeeded (attempt 2)"]


def test_an_input_named_mode_is_an_input_not_the_run_mode() -> None:
    from containertask.sdk import run as run_module

    task = containertask.ContainerTask(
        "m", "busybox", "echo {{.inputs.mode}}", inputs={"mode": str}
    )
    inputs: dict[str, Any] = {}
    context = run_module._context(task, "local", inputs)
    assert context.mode == "remote" and inputs == {"mode": "local"}
    plain = containertask.ContainerTask("p", "busybox", "true")
    assert run_module._context(plain, "local", {}).mode == "local"
