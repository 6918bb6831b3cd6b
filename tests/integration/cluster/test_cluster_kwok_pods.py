"""kwok drives pods through their lifecycle as the annotations in hack/kwok/README.md say (pods
ask for kwok nodes: they are tainted, so pods that name no node go to the real node)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from localcluster import kwok

pytestmark = pytest.mark.integration

SIM = "sim.containertask.io"


def _pod(
    name: str,
    annotations: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("main",),
    init: tuple[str, ...] = (),
    sidecars: tuple[str, ...] = (),
) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1PodSpec(
            restart_policy="Never",
            node_selector=kwok.PLACEMENT["nodeSelector"],
            tolerations=kwok.PLACEMENT["tolerations"],
            init_containers=[
                client.V1Container(name=n, image="busybox", restart_policy="Always")
                if n in sidecars
                else client.V1Container(name=n, image="busybox")
                for n in init
            ]
            or None,
            containers=[client.V1Container(name=n, image="busybox") for n in containers],
        ),
    )


def _wait(what: str, get: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value}")
        time.sleep(0.1)


def _wait_phase(core: client.CoreV1Api, ns: str, name: str, phases: set[str]) -> Any:
    return _wait(
        f"pod {name} phase in {phases}",
        lambda: core.read_namespaced_pod(name, ns),
        lambda p: p.status.phase in phases,
        timeout=30,
    )


def _states(statuses: list[Any] | None) -> dict[str, Any]:
    return {s.name: s for s in statuses or []}


@pytest.fixture
def core(api_client: Any) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


def test_plain_pod_is_scheduled_onto_a_kwok_node_and_succeeds(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, _pod("plain"))
    pod = _wait_phase(core, namespace, "plain", {"Succeeded", "Failed"})
    assert pod.status.phase == "Succeeded"
    assert pod.spec.node_name.startswith("kwok-node-")
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert scheduled.status == "True"
    main = _states(pod.status.container_statuses)["main"].state.terminated
    assert (main.exit_code, main.reason) == (0, "Completed")


def test_exit_code_reason_and_message_come_from_annotations(
    core: client.CoreV1Api, namespace: str
) -> None:
    annotations = {
        f"{SIM}/exit-code.main": "137",
        f"{SIM}/reason.main": "OOMKilled",
        f"{SIM}/message.main": "ran out of memory",
        f"{SIM}/run-seconds": "0.5",
    }
    core.create_namespaced_pod(namespace, _pod("oom", annotations, containers=("main", "helper")))
    pod = _wait_phase(core, namespace, "oom", {"Succeeded", "Failed"})
    assert pod.status.phase == "Failed"
    states = _states(pod.status.container_statuses)
    main = states["main"].state.terminated
    assert (main.exit_code, main.reason, main.message) == (137, "OOMKilled", "ran out of memory")
    helper = states["helper"].state.terminated
    assert (helper.exit_code, helper.reason) == (0, "Completed")


def test_native_sidecar_runs_alongside_main_and_stops_after_it(
    core: client.CoreV1Api, namespace: str
) -> None:
    annotations = {f"{SIM}/run-seconds": "2", f"{SIM}/exit-code.logs": "1"}
    pod = _pod("sidecar", annotations, init=("setup", "logs"), sidecars=("logs",))
    core.create_namespaced_pod(namespace, pod)
    running = _wait_phase(core, namespace, "sidecar", {"Running", "Succeeded", "Failed"})
    assert running.status.phase == "Running"
    init = _states(running.status.init_container_statuses)
    assert init["setup"].state.terminated.exit_code == 0
    assert init["logs"].started is True
    assert init["logs"].state.running is not None
    assert _states(running.status.container_statuses)["main"].state.running is not None
    ready = {c.type: (c.status, c.reason) for c in running.status.conditions}
    assert ready["Initialized"] == ("True", None)
    assert ready["Ready"] == ("True", None)

    done = _wait_phase(core, namespace, "sidecar", {"Succeeded", "Failed"})
    assert done.status.phase == "Succeeded"  # a sidecar's exit code does not decide the phase
    init = _states(done.status.init_container_statuses)
    main = _states(done.status.container_statuses)["main"].state.terminated
    logs = init["logs"].state.terminated
    assert logs.exit_code == 1
    assert logs.finished_at >= main.finished_at


def test_failing_init_container_fails_the_pod_before_main_runs(
    core: client.CoreV1Api, namespace: str
) -> None:
    annotations = {f"{SIM}/exit-code.setup": "2", f"{SIM}/message.setup": "bad config"}
    pod = _pod("initfail", annotations, init=("logs", "setup", "later"), sidecars=("logs",))
    core.create_namespaced_pod(namespace, pod)
    done = _wait_phase(core, namespace, "initfail", {"Succeeded", "Failed"})
    assert done.status.phase == "Failed"
    init = _states(done.status.init_container_statuses)
    setup = init["setup"].state.terminated
    assert (setup.exit_code, setup.reason, setup.message) == (2, "Error", "bad config")
    assert init["logs"].state.terminated is not None
    assert init["later"].state.waiting.reason == "PodInitializing"
    main = _states(done.status.container_statuses)["main"]
    assert main.state.waiting.reason == "PodInitializing"


def test_waiting_reason_keeps_the_pod_pending(core: client.CoreV1Api, namespace: str) -> None:
    annotations = {
        f"{SIM}/waiting-reason": "ErrImagePull",
        f"{SIM}/waiting-message": "pull access denied for nope",
    }
    core.create_namespaced_pod(namespace, _pod("pullfail", annotations))
    pod = _wait(
        "waiting reason on pullfail",
        lambda: core.read_namespaced_pod("pullfail", namespace),
        lambda p: bool(p.status.container_statuses),
        timeout=30,
    )
    time.sleep(1.5)  # longer than a default run: it must still not have started
    pod = core.read_namespaced_pod("pullfail", namespace)
    assert pod.status is not None
    assert pod.status.phase == "Pending"
    waiting = _states(pod.status.container_statuses)["main"].state.waiting
    assert (waiting.reason, waiting.message) == ("ErrImagePull", "pull access denied for nope")


def test_job_completes_through_the_job_controller(api_client: Any, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="three"),
        spec=client.V1JobSpec(
            completions=3,
            parallelism=3,
            backoff_limit=0,
            template=client.V1PodTemplateSpec(spec=_pod("unused").spec),
        ),
    )
    batch.create_namespaced_job(namespace, job)
    done = _wait(
        "job three to finish",
        lambda: batch.read_namespaced_job_status("three", namespace),
        lambda j: any(c.type in ("Complete", "Failed") for c in j.status.conditions or []),
        timeout=60,
    )
    assert [c.type for c in done.status.conditions if c.status == "True"][-1] == "Complete"
    assert done.status.succeeded == 3


def _gone(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def test_deleting_a_running_pod_completes(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, _pod("slow", {f"{SIM}/run-seconds": "600"}))
    _wait_phase(core, namespace, "slow", {"Running"})
    core.delete_namespaced_pod("slow", namespace, grace_period_seconds=30)
    _wait("pod slow deleted", lambda: _gone(core, namespace, "slow"), bool, timeout=15)


def test_deleting_a_running_job_removes_its_pods(api_client: Any, namespace: str) -> None:
    """Job pods carry the tracking finalizer: they must end Failed before they can go."""
    batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    template = _pod("unused", {f"{SIM}/run-seconds": "600"})
    template_spec = client.V1PodTemplateSpec(metadata=template.metadata, spec=template.spec)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="cancelled"),
        spec=client.V1JobSpec(backoff_limit=0, template=template_spec),
    )
    batch.create_namespaced_job(namespace, job)
    pods = _wait(
        "a running pod of job cancelled",
        lambda: core.list_namespaced_pod(namespace, label_selector="job-name=cancelled").items,
        lambda items: any(p.status.phase == "Running" for p in items),
        timeout=30,
    )
    assert pods[0].metadata.finalizers == ["batch.kubernetes.io/job-tracking"]
    batch.delete_namespaced_job("cancelled", namespace, propagation_policy="Foreground")
    _wait(
        "pods of job cancelled deleted",
        lambda: core.list_namespaced_pod(namespace, label_selector="job-name=cancelled").items,
        lambda items: not items,
        timeout=30,
    )
