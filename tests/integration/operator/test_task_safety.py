"""Safety of a task through the operator on the real apiserver: an edited task cannot poison the
cache, a podTemplate cannot reach the helpers, an uploader's report cannot point outside its
attempt's prefix, and a pod gets no API token unless its task names a service account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from operatorkit import Operator, Tasks

from containertask.api import UploadResult

pytestmark = pytest.mark.integration

LOCATION = "s3://b/runs"


def ok(**fields: Any) -> str:
    return UploadResult(ok=True, **fields).to_message()


def cached_task(a: int) -> dict[str, Any]:
    return {
        "command": ["echo", "{{.inputs.a}}"],
        "inputs": [{"name": "a", "type": "int", "value": a}],
        "outputs": [{"name": "n", "type": "int"}],
        "cacheVersion": "v1",
    }


def test_editing_a_finished_task_cannot_poison_the_cache(operator: Operator, tasks: Tasks) -> None:
    """The issue's scenario: task 1 (a=1) succeeds; its spec is patched to a=2; task 2 with a=2
    must run, not end Cached with task 1's outputs."""
    tasks.create("one", sim={"message.uploader": ok(outputs={"n": 1})}, **cached_task(1))
    tasks.wait_phase("one", "Succeeded")

    with pytest.raises(ApiException) as refused:
        tasks.patch_spec("one", {"inputs": [{"name": "a", "type": "int", "value": 2}]})
    assert refused.value.status == 422
    assert "spec.inputs cannot change once the task exists" in str(refused.value.body)

    tasks.create("two", sim={"message.uploader": ok(outputs={"n": 2})}, **cached_task(2))
    status = tasks.wait_phase("two", "Succeeded")
    assert (status["reason"], status["outputs"]) == ("Succeeded", {"n": 2})
    assert tasks.pod_names() == ["one-1", "two-1"]


def test_cancel_still_works_on_an_immutable_spec(operator: Operator, tasks: Tasks) -> None:
    tasks.create("long", sim={"run-seconds": "120"})
    tasks.wait_phase("long", "Running")
    tasks.patch_spec("long", {"cancel": True})
    tasks.wait_phase("long", "Cancelled")
    tasks.wait_gone("long-1")


@pytest.mark.parametrize(
    ("template", "field"),
    [
        (
            {
                "initContainers": [
                    {
                        "name": "uploader",
                        "args": ["--config", "/tmp/evil.json"],
                        "env": [{"name": "AWS_ENDPOINT_URL", "value": "http://evil"}],
                    }
                ]
            },
            "spec.podTemplate.spec.initContainers[0].name",
        ),
        (
            {"containers": [{"name": "main"}, {"name": "shipper", "image": "busybox"}]},
            "spec.podTemplate.spec.containers[1]",
        ),
    ],
    ids=["uploader-in-template", "extra-regular-container"],
)
def test_a_template_that_reaches_the_helpers_fails_as_invalid_spec_with_no_pod(
    operator: Operator, tasks: Tasks, template: dict[str, Any], field: str
) -> None:
    tasks.create("bad", podTemplate={"spec": template})
    status = tasks.wait_phase("bad", "Failed")
    assert status["reason"] == "InvalidSpec"
    assert status["message"].startswith(field)
    assert tasks.pod_names() == []


def test_a_native_sidecar_in_the_template_runs_beside_untouched_helpers(
    operator: Operator, tasks: Tasks
) -> None:
    sidecar = {"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"}
    tasks.create(
        "sidecar",
        sim={"message.uploader": ok(outputs={"n": 1})},
        outputs=[{"name": "n", "type": "int"}],
        podTemplate={"spec": {"initContainers": [sidecar], "securityContext": {"runAsUser": 0}}},
    )
    tasks.wait_phase("sidecar", "Succeeded")
    pod = tasks.core.read_namespaced_pod("sidecar-1", tasks.namespace)
    assert pod.spec is not None and pod.spec.init_containers is not None
    assert [c.name for c in pod.spec.init_containers] == ["uploader", "proxy"]
    uploader = pod.spec.init_containers[0]
    assert uploader.command == ["containertask", "copilot", "upload"]
    assert uploader.args is None
    assert uploader.security_context is not None and uploader.env is not None
    assert uploader.security_context.run_as_user == 65532
    assert [e.name for e in uploader.env] == ["CONTAINERTASK_COPILOT_CONFIG", "TMPDIR"]


def test_outputs_outside_the_attempts_prefix_are_not_published(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator(f"--output-location={LOCATION}")
    elsewhere = f"{LOCATION}/another-namespace/theirs/uid/attempt-1/outputs.pb"
    tasks.create(
        "foreign",
        sim={"message.uploader": ok(outputs_uri=elsewhere)},
        outputs=[{"name": "report", "type": "file"}],
        retries={"limit": 2},
    )
    status = tasks.wait_phase("foreign", "Failed")
    assert status["reason"] == "OutputsOutsidePrefix"
    assert elsewhere in status["message"]
    assert "outputsUri" not in status and "outputs" not in status
    assert len(status["attempts"]) == 1


@pytest.mark.parametrize(
    ("spec", "token"),
    [({}, False), ({"serviceAccountName": "default"}, True)],
    ids=["none", "named"],
)
def test_a_pod_gets_an_api_token_only_when_its_task_names_a_service_account(
    operator: Operator, tasks: Tasks, spec: dict[str, Any], token: bool
) -> None:
    tasks.create("t", sim={"message.uploader": ok()}, **spec)
    tasks.wait_phase("t", "Succeeded")
    pod = tasks.core.read_namespaced_pod("t-1", tasks.namespace)
    assert pod.spec is not None and pod.spec.volumes is not None
    volumes = [v.name for v in pod.spec.volumes]
    assert any(v.startswith("kube-api-access-") for v in volumes) is token
    assert pod.spec.automount_service_account_token is (None if token else False)
