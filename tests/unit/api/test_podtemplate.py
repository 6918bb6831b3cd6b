"""What a podTemplate may not set: the helpers, their volumes, extra regular containers, shared
process namespaces. Each refusal names the field."""

from __future__ import annotations

from typing import Any

import pytest

from containertask.api import SpecError, TaskSpec, podtemplate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({"spec": {"initContainers": [{"name": "uploader"}]}}, "initContainers[0].name"),
        (
            {"spec": {"initContainers": [{"name": "x"}, {"name": "downloader"}]}},
            "initContainers[1].name",
        ),
        ({"spec": {"containers": [{"name": "uploader"}]}}, "containers[0].name"),
        ({"spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]}}, "containers[1]"),
        (
            {"spec": {"volumes": [{"name": "outputs", "hostPath": {"path": "/"}}]}},
            "volumes[0].name",
        ),
        ({"spec": {"volumes": [{"name": "copilot-tmp", "emptyDir": {}}]}}, "volumes[0].name"),
        (
            {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "volumeMounts": [{"name": "copilot-tmp", "mountPath": "/t"}],
                        }
                    ]
                }
            },
            "containers[0].volumeMounts[0].name",
        ),
        ({"spec": {"shareProcessNamespace": True}}, "shareProcessNamespace"),
        ({"spec": {"hostPID": True}}, "hostPID"),
        ({"spec": {"containers": [{"image": "x"}]}}, "containers[0]"),
        ({"spec": {"containers": {"name": "main"}}}, "containers"),
    ],
    ids=[
        "uploader",
        "downloader",
        "helper-as-regular-container",
        "extra-regular-container",
        "outputs-volume",
        "helper-tmp-volume",
        "helper-tmp-mount",
        "shared-process-namespace",
        "host-pid",
        "unnamed-container",
        "containers-not-a-list",
    ],
)
def test_refused_templates_name_the_field(template: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as caught:
        podtemplate.check(template)
    assert caught.value.field == f"spec.podTemplate.spec.{field}"


def test_unknown_template_keys_are_refused() -> None:
    with pytest.raises(SpecError, match=r"spec\.podTemplate\.kind: not a pod template field"):
        podtemplate.check({"kind": "Pod"})


def test_extra_regular_container_message_says_what_to_do() -> None:
    with pytest.raises(SpecError) as caught:
        podtemplate.check({"spec": {"containers": [{"name": "log-shipper"}]}})
    assert "keep the pod running" in str(caught.value)
    assert "restartPolicy: Always" in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        {"spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}]}},
        {"spec": {"initContainers": [{"name": "setup", "image": "busybox"}]}},
        {"spec": {"containers": [{"name": "main", "securityContext": {"runAsUser": 1000}}]}},
        {"spec": {"shareProcessNamespace": False, "volumes": [{"name": "data", "emptyDir": {}}]}},
        {"metadata": {"labels": {"a": "b"}}},
    ],
    ids=["native-sidecar", "extra-init-container", "main-settings", "own-volume", "metadata"],
)
def test_allowed_templates(template: dict[str, Any]) -> None:
    podtemplate.check(template)


def test_task_spec_checks_its_template() -> None:
    with pytest.raises(SpecError, match=r"spec\.podTemplate\.spec\.initContainers\[0\]\.name"):
        TaskSpec.from_dict(
            {"image": "x", "podTemplate": {"spec": {"initContainers": [{"name": "uploader"}]}}}
        )


def test_the_primary_container_may_stand_for_main() -> None:
    template = {"spec": {"containers": [{"name": "primary", "image": "x"}]}}
    podtemplate.check(template, primary="primary")
    with pytest.raises(SpecError, match=r"extra regular container \('primary'\)"):
        podtemplate.check(template)


def test_errors_name_the_template_they_come_from() -> None:
    with pytest.raises(SpecError) as caught:
        podtemplate.check(
            {"spec": {"initContainers": [{"name": "uploader"}]}}, where="PodTemplate gpu.template"
        )
    assert caught.value.field == "PodTemplate gpu.template.spec.initContainers[0].name"
