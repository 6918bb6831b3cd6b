"""Warning events about pods: which explain a wait, whose pods they may speak for, which is the
latest, and how a pod's status shows one before the kubelet writes it there.

Events here are shaped like those kubelet v1.37 posted on the real node (see
tests/e2e/test_lifecycle.py for the events themselves reaching the operator).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from podstates import pod, running, terminated, waiting

from containertask.controller.observe import State, observe
from containertask.controller.podwarnings import (
    MIN_PRUNE,
    PodWarning,
    WarningInformer,
    read_warning,
    status_reason,
)

pytestmark = pytest.mark.unit

PULL = (
    'Failed to pull image "absent:1": rpc error: code = Unknown desc = failed to pull and unpack '
    'image "docker.io/library/absent:1": failed to resolve reference'
)


def event(
    reason: str = "Failed",
    message: str = PULL,
    *,
    pod_name: str = "area-1",
    pod_uid: str = "pod-uid",
    namespace: str = "ns",
    field_path: str | None = "spec.containers{main}",
    last: str = "2026-01-01T00:00:01Z",
) -> dict[str, Any]:
    involved = {
        "kind": "Pod",
        "namespace": namespace,
        "name": pod_name,
        "uid": pod_uid,
    }
    if field_path:
        involved["fieldPath"] = field_path
    return {
        "metadata": {"name": f"{pod_name}.1", "namespace": namespace, "uid": "event-uid"},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": last,
    }


@pytest.mark.parametrize(
    ("reason", "message", "expected"),
    [
        ("Failed", PULL, "ErrImagePull"),
        ("Failed", "Error: ErrImagePull", None),  # repeats the detailed one, says less
        ("Failed", 'Error: secret "x" not found', None),  # the pod's status says so itself
        ("BackOff", 'Back-off pulling image "absent:1"', "ImagePullBackOff"),
        ("BackOff", "Back-off restarting failed container main", None),
        ("FailedMount", 'MountVolume.SetUp failed: secret "x" not found', "FailedMount"),
        ("FailedCreatePodSandBox", "failed to setup network", "FailedCreatePodSandBox"),
        ("ErrImageNeverPull", "Container image is not present", "ErrImageNeverPull"),
        ("FailedScheduling", "0/3 nodes are available", None),  # the PodScheduled condition's
        ("Unhealthy", "Readiness probe failed", None),
    ],
)
def test_which_warnings_explain_a_wait(reason: str, message: str, expected: str | None) -> None:
    assert status_reason(reason, message) == expected


def test_a_warning_names_its_pod_container_and_time() -> None:
    read = read_warning(event())
    assert read is not None
    key, warning = read
    assert key == ("ns", "area-1")
    assert warning == PodWarning(
        "pod-uid", "ErrImagePull", PULL, "main", datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    )


def test_an_event_cannot_speak_for_a_pod_of_another_namespace() -> None:
    """The apiserver refuses an event whose object is in another namespace, but takes one in
    ``default`` that names no namespace at all."""
    loose = event(namespace="default")
    del loose["involvedObject"]["namespace"]
    assert read_warning(loose) is None


def test_a_huge_message_is_clipped() -> None:
    read = read_warning(event(message="Failed to pull image " + "x" * 100_000))
    assert read is not None and len(read[1].message) <= 1024


class Owners:
    """Which pods are ours: (namespace, name, uid) -> task uid."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str, str], str] = {("ns", "area-1", "pod-uid"): "task-uid"}

    def __call__(self, namespace: str, name: str, uid: str) -> str | None:
        return self.pods.get((namespace, name, uid))


def informer(owners: Owners, changed: list[str]) -> WarningInformer:
    return WarningInformer(None, ["ns"], owners, changed.append, 300)  # type: ignore[arg-type]


def view(name: str = "area-1", uid: str = "pod-uid") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "uid": uid}}


def test_the_latest_warning_of_our_pod_is_kept_and_its_task_told() -> None:
    changed: list[str] = []
    warnings = informer(Owners(), changed)
    warnings.apply("ADDED", event())
    later = event("BackOff", 'Back-off pulling image "absent:1"', last="2026-01-01T00:00:09Z")
    warnings.apply("MODIFIED", later)
    warnings.apply("MODIFIED", event(last="2026-01-01T00:00:05Z"))  # older than what is known
    found = warnings.warning_for(view())
    assert found is not None and found.reason == "ImagePullBackOff"
    assert changed == ["task-uid"] * 2


def test_warnings_of_other_pods_are_ignored() -> None:
    changed: list[str] = []
    warnings = informer(Owners(), changed)
    warnings.apply("ADDED", event(pod_name="someone-elses"))
    warnings.apply("ADDED", event(pod_uid="an-earlier-pod-of-that-name"))
    warnings.apply("ADDED", event("Unhealthy", "Readiness probe failed"))
    assert changed == []
    assert warnings.warning_for(view()) is None
    assert warnings.warning_for(view("someone-elses")) is None


def test_a_new_pod_of_the_same_name_does_not_inherit_a_warning() -> None:
    warnings = informer(Owners(), [])
    warnings.apply("ADDED", event())
    assert warnings.warning_for(view(uid="a-new-pod")) is None


def test_warnings_of_pods_that_are_gone_are_forgotten() -> None:
    """Memory follows the pods that exist, however many came and went."""
    owners = Owners()
    warnings = informer(owners, [])
    for n in range(1000):  # each pod warned about, then gone
        owners.pods = {("ns", f"p-{n}", f"uid-{n}"): "task-uid"}
        warnings.apply("ADDED", event(pod_name=f"p-{n}", pod_uid=f"uid-{n}"))
    assert len(warnings._latest) <= 2 * MIN_PRUNE
    warnings.listed("ns", set())  # a listing prunes at once
    assert list(warnings._latest) == [("ns", "p-999")]


def _warning(container: str | None = "main", reason: str = "ErrImagePull") -> PodWarning:
    return PodWarning("pod-uid", reason, PULL, container, None)


def test_a_warning_explains_a_pod_whose_status_says_only_not_started() -> None:
    seen = observe(
        pod(main=waiting("PodInitializing"), downloader=terminated(0), uploader=running()),
        has_uploader=True,
        outputs=["area"],
        warning=_warning(),
    )
    assert (seen.state, seen.reason) == (State.PENDING, "ErrImagePull")
    assert seen.message == f"main: {PULL}"
    assert seen.retryable


def test_a_pod_level_warning_explains_a_pod_with_no_container_started() -> None:
    seen = observe(
        pod(main=waiting("ContainerCreating")),
        has_uploader=False,
        outputs=[],
        warning=_warning(None, "FailedMount"),
    )
    assert (seen.state, seen.reason) == (State.PENDING, "FailedMount")


@pytest.mark.parametrize(
    "body",
    [
        pod(main=running()),  # the pull succeeded since
        pod(main=waiting("ErrImagePull", "the status's own words")),  # the status caught up
        pod(main=waiting("PodInitializing"), downloader=running()),  # still downloading
    ],
    ids=["running", "status-says-so", "downloading"],
)
def test_the_pods_own_status_wins_over_a_warning(body: dict[str, Any]) -> None:
    plain = observe(body, has_uploader=False, outputs=[])
    assert observe(body, has_uploader=False, outputs=[], warning=_warning()) == plain


def test_a_warning_about_a_container_that_ran_since_explains_nothing() -> None:
    body = pod(main=waiting("PodInitializing"), downloader=terminated(0))
    seen = observe(body, has_uploader=False, outputs=[], warning=_warning("downloader"))
    assert (seen.reason, seen.message) == (
        "Starting",
        "the inputs are in place; the containers are starting",
    )
