"""Pod -> attempt outcome: every waiting reason, terminated reason and uploader result."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from podstates import (
    T0,
    T1,
    disruption,
    pod,
    real_report,
    running,
    terminated,
    uploaded,
    waiting,
)

from containertask.api import UploadResult
from containertask.controller.observe import State, download_seconds, observe

pytestmark = pytest.mark.unit

OUTPUTS = ["area", "report"]
OK: dict[str, Any] = {"ok": True, "outputs": {"area": 12.5}, "outputs_uri": "s3://b/o.pb"}

CASES: list[tuple[str, dict[str, Any], State, str | None, bool]] = [
    # (id, pod, state, reason, retryable)
    ("created", pod(), State.PENDING, "Pending", True),
    ("creating", pod(main=waiting("ContainerCreating")), State.PENDING, "Pending", True),
    (
        "init-running",
        pod(main=waiting("PodInitializing"), uploader=running()),
        State.PENDING,
        "Pending",
        True,
    ),
    (
        "err-image-pull",
        pod(main=waiting("ErrImagePull", "not found")),
        State.PENDING,
        "ErrImagePull",
        True,
    ),
    (
        "image-pull-backoff",
        pod(main=waiting("ImagePullBackOff")),
        State.PENDING,
        "ImagePullBackOff",
        True,
    ),
    (
        "helper-config-error",
        pod(
            main=waiting("PodInitializing"),
            uploader=waiting("CreateContainerConfigError", "secret x not found"),
        ),
        State.PENDING,
        "CreateContainerConfigError",
        True,
    ),
    (
        "unschedulable",
        pod(scheduled=("False", "Unschedulable", "0/3 nodes are available")),
        State.PENDING,
        "Unschedulable",
        True,
    ),
    ("running", pod("Running", main=running(), uploader=running()), State.RUNNING, "Running", True),
    (
        "uploading",
        pod("Running", main=terminated(0), uploader=running()),
        State.RUNNING,
        "Uploading",
        True,
    ),
    (
        "succeeded",
        pod("Succeeded", main=terminated(0), uploader=uploaded(**OK)),
        State.SUCCEEDED,
        "Succeeded",
        True,
    ),
    (
        "exit-code",
        pod("Failed", main=terminated(3), uploader=uploaded(ok=True)),
        State.FAILED,
        "Error",
        True,
    ),
    (
        "oom-killed",
        pod("Failed", main=terminated(137, "OOMKilled"), uploader=uploaded(ok=True)),
        State.FAILED,
        "OOMKilled",
        True,
    ),
    (
        "user-error-exit-0",
        pod(
            "Succeeded",
            main=terminated(0),
            uploader=uploaded(ok=False, error_kind="user", error="bad input"),
        ),
        State.FAILED,
        "UserError",
        False,
    ),
    (
        "user-error-exit-1",
        pod(
            "Failed",
            main=terminated(1),
            uploader=uploaded(ok=False, error_kind="user", error="bad input"),
        ),
        State.FAILED,
        "UserError",
        False,
    ),
    (
        "error-file-then-oom-killed",
        pod(
            "Failed",
            main=terminated(137, "OOMKilled"),
            uploader=uploaded(ok=False, error_kind="user", error="bad input"),
        ),
        State.FAILED,
        "OOMKilled",
        True,
    ),
    (
        "output-error-exit-0",
        pod(
            "Succeeded",
            main=terminated(0),
            uploader=uploaded(ok=False, error_kind="output", error="output 'area': missing"),
        ),
        State.FAILED,
        "UserError",
        False,
    ),
    (
        "output-error-after-exit-1",
        pod(
            "Failed",
            main=terminated(1),
            uploader=uploaded(ok=False, error_kind="output", error="output 'area': missing"),
        ),
        State.FAILED,
        "Error",
        True,
    ),
    (
        "killed-by-sigterm",
        pod("Failed", main=terminated(143), uploader=uploaded(ok=True)),
        State.FAILED,
        "Error",
        True,
    ),
    (
        "invalid-image-name",
        pod(main=waiting("InvalidImageName", 'couldn\'t parse image name "Bad:1"')),
        State.FAILED,
        "InvalidImageName",
        False,
    ),
    (
        "downloading",
        pod(main=waiting("PodInitializing"), uploader=running(), downloader=running()),
        State.INITIALIZING,
        "Initializing",
        True,
    ),
    (
        "inputs-downloaded",
        pod(main=waiting("PodInitializing"), uploader=running(), downloader=terminated(0)),
        State.PENDING,
        "Starting",
        True,
    ),
    (
        "preempted",
        pod(
            "Running",
            main=running(),
            uploader=running(),
            conditions=[disruption("PreemptionByScheduler", T1)],
        ),
        State.FAILED,
        "PreemptionByScheduler",
        True,
    ),
    (
        "evicted-by-api-then-graceful-exit-0",
        pod(
            "Succeeded",
            main=terminated(0, finished=T1),
            uploader=uploaded(ok=True, outputs={"area": 1.0}, outputs_uri="s3://b/o.pb"),
            conditions=[disruption("EvictionByEvictionAPI", T0)],
            deleting=T1,
        ),
        State.FAILED,
        "EvictionByEvictionAPI",
        True,
    ),
    (
        "deleted-by-someone-then-graceful-exit-0",
        pod(
            "Succeeded",
            main=terminated(0, finished=T1),
            uploader=uploaded(**OK),
            deleting="2026-01-01T00:00:30Z",
            grace=30,
        ),
        State.FAILED,
        "PodDeleted",
        True,
    ),
    (
        "node-lost-stuck-terminating",
        pod(
            "Running",
            main=running(),
            uploader=running(),
            conditions=[disruption("DeletionByTaintManager", T1)],
            deleting=T1,
        ),
        State.FAILED,
        "DeletionByTaintManager",
        True,
    ),
    (
        "finished-before-deletion",
        pod(
            "Succeeded",
            main=terminated(0, finished=T0),
            uploader=uploaded(**OK),
            deleting="2026-01-01T00:00:40Z",
            grace=30,
        ),
        State.SUCCEEDED,
        "Succeeded",
        True,
    ),
    (
        "upload-system-error",
        pod(
            "Succeeded",
            main=terminated(0),
            uploader=uploaded(ok=False, error_kind="system", error="store down"),
        ),
        State.FAILED,
        "UploadFailed",
        True,
    ),
    (
        "uploader-no-message",
        pod("Succeeded", main=terminated(0), uploader=terminated(1)),
        State.FAILED,
        "UploadFailed",
        True,
    ),
    (
        "uploader-invalid-message",
        pod("Succeeded", main=terminated(0), uploader=terminated(0, message="{not json")),
        State.FAILED,
        "UploadFailed",
        True,
    ),
    (
        "uploader-missing-output",
        pod("Succeeded", main=terminated(0), uploader=uploaded(ok=True, outputs={"area": 1.0})),
        State.FAILED,
        "UploadFailed",
        True,
    ),
    (
        "uploader-never-ran",
        pod("Succeeded", main=terminated(0)),
        State.FAILED,
        "UploadFailed",
        True,
    ),
    (
        "downloader-failed",
        pod(
            "Failed",
            main=waiting("PodInitializing"),
            downloader=terminated(1, message="no such key"),
        ),
        State.FAILED,
        "DownloadFailed",
        True,
    ),
    ("evicted", pod("Failed", main=running(), reason="Evicted"), State.FAILED, "Evicted", True),
    (
        "evicted-after-exit-0",
        pod("Failed", main=terminated(0), uploader=uploaded(**OK), reason="Evicted"),
        State.FAILED,
        "Evicted",
        True,
    ),
    ("phase-succeeded-without-main", pod("Succeeded"), State.FAILED, "MainContainerMissing", True),
]


@pytest.mark.parametrize(
    ("body", "state", "reason", "retryable"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_observe(body: dict[str, Any], state: State, reason: str, retryable: bool) -> None:
    seen = observe(body, has_uploader=True, outputs=OUTPUTS)
    assert (seen.state, seen.reason, seen.retryable) == (state, reason, retryable)
    disrupted = reason in (
        "Evicted",
        "PreemptionByScheduler",
        "EvictionByEvictionAPI",
        "PodDeleted",
        "DeletionByTaintManager",
    )
    assert seen.disrupted is disrupted


def test_oom_killed_with_a_missing_output_is_oom_killed(tmp_path: Path) -> None:
    """Issue 11: main OOMKilled, then the real uploader finds the output missing. The cause is the
    kill (retried), not a user error."""
    report = real_report(tmp_path, {"area": "float"}, {})
    assert "'area': missing" in report  # what the uploader really says
    body = pod("Failed", main=terminated(137, "OOMKilled"), uploader=terminated(1, message=report))
    seen = observe(body, has_uploader=True, outputs=["area"])
    assert (seen.state, seen.reason, seen.retryable, seen.exit_code) == (
        State.FAILED,
        "OOMKilled",
        True,
        137,
    )
    assert seen.message == "the main container was OOMKilled (exit code 137)"


@pytest.mark.parametrize(
    ("code", "files", "reason", "retryable"),
    [
        (0, {}, "UserError", False),
        (1, {}, "Error", True),
        (1, {"_ERROR": "a must be positive"}, "UserError", False),
        (0, {"area": "2.5"}, "Succeeded", True),
    ],
    ids=["missing-after-exit-0", "missing-after-exit-1", "error-file-exit-1", "ok"],
)
def test_real_uploader_reports(
    tmp_path: Path, code: int, files: dict[str, str], reason: str, retryable: bool
) -> None:
    report = real_report(tmp_path, {"area": "float"}, files)
    body = pod(
        "Succeeded" if code == 0 else "Failed",
        main=terminated(code),
        uploader=terminated(0 if reason == "Succeeded" else 1, message=report),
    )
    seen = observe(body, has_uploader=True, outputs=["area"])
    assert (seen.reason, seen.retryable) == (reason, retryable)


def test_signal_exit_names_the_signal() -> None:
    seen = observe(pod("Failed", main=terminated(137)), has_uploader=False, outputs=[])
    assert seen.message == "the main container exited with code 137 (SIGKILL)"


@pytest.mark.parametrize(
    ("code", "reason", "hinted"),
    [(137, "Error", True), (143, "Error", False), (1, "Error", False), (137, "OOMKilled", False)],
)
def test_sigkill_under_a_memory_limit_says_it_was_most_likely_the_oom_killer(
    code: int, reason: str, hinted: bool
) -> None:
    """containerd 1.6 may report a container the kernel OOM-killed at once as Error, 137
    (containerd#8180): the reason stays the runtime's, the message says what most likely
    happened; only SIGKILL under a memory limit gets that hint."""
    body = pod("Failed", main=terminated(code, reason))
    seen = observe(body, has_uploader=False, outputs=[], memory_limit="24Mi")
    assert (seen.reason, seen.exit_code) == (reason, code)
    assert ("memory limit of 24Mi" in (seen.message or "")) is hinted, seen.message
    unlimited = observe(body, has_uploader=False, outputs=[])
    assert "memory limit" not in (unlimited.message or "")


def test_the_oom_hint_keeps_the_containers_own_last_words() -> None:
    body = pod("Failed", main=terminated(137, "Error", message="loading 3 GiB of weights"))
    seen = observe(body, has_uploader=False, outputs=[], memory_limit="1Gi")
    assert seen.message == (
        "the main container exited with code 137 (SIGKILL); under its memory limit of 1Gi most "
        "likely the kernel's OOM killer, which the container runtime does not always report as "
        "OOMKilled\nloading 3 GiB of weights"
    )
    unlimited = observe(body, has_uploader=False, outputs=[])
    assert unlimited.message == "loading 3 GiB of weights"


def test_download_time_is_measured_from_the_downloader() -> None:
    now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    downloading = {"running": {"startedAt": T1}}
    done = terminated(0, finished="2026-01-01T00:00:25Z")
    assert download_seconds(pod(downloader=downloading), now) == 55
    assert download_seconds(pod(downloader=done), now) == 25
    assert download_seconds(pod(), now) == 0


def test_success_carries_the_upload_result_and_times() -> None:
    seen = observe(
        pod("Succeeded", main=terminated(0), uploader=uploaded(**OK)),
        has_uploader=True,
        outputs=OUTPUTS,
    )
    assert seen.result == UploadResult(**OK)
    assert seen.exit_code == 0
    assert seen.finished_at == T1


def test_pod_phase_alone_is_not_trusted() -> None:
    """Pod Succeeded with main exit 0 is not success while the uploader reports nothing."""
    seen = observe(
        pod("Succeeded", main=terminated(0), uploader=terminated(0)), has_uploader=True, outputs=[]
    )
    assert seen.state is State.FAILED


def test_without_uploader_exit_zero_is_enough() -> None:
    seen = observe(pod("Succeeded", main=terminated(0)), has_uploader=False, outputs=[])
    assert seen.state is State.SUCCEEDED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (pod("Failed", main=terminated(3)), "the main container exited with code 3"),
        (pod("Failed", main=terminated(3, message="boom")), "boom"),
        (pod(main=waiting("ErrImagePull", "pull access denied")), "main: pull access denied"),
        (pod(scheduled=("False", "Unschedulable", "0/1 nodes")), "0/1 nodes"),
    ],
    ids=["exit-code", "termination-message", "waiting", "unschedulable"],
)
def test_messages(body: dict[str, Any], message: str) -> None:
    assert observe(body, has_uploader=False, outputs=[]).message == message
