"""On a real apiserver, the CRD keeps a task's spec as it was created: every change but setting
spec.cancel is refused, naming the field, including changes CEL could only see by comparing
untyped values whole (a value, a key of podTemplate, an env var's source)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from containertask.api import GROUP, PLURAL, VERSION

pytestmark = pytest.mark.integration

SPEC: dict[str, Any] = {
    "image": "busybox:1",
    "command": ["echo", "{{.inputs.a}}"],
    "inputs": [{"name": "a", "type": "int", "value": 1}],
    "outputs": [{"name": "n", "type": "int"}],
    "cacheVersion": "v1",
    "env": [{"name": "MODE", "value": "fast"}],
    "resources": {"limits": {"memory": "64Mi"}},
    "podTemplate": {"metadata": {"labels": {"team": "a"}}},
}


class Api:
    def __init__(self, api_client: Any, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace

    def create(self, spec: dict[str, Any]) -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ContainerTask",
            "metadata": {"name": name},
            "spec": spec,
        }
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        return name

    def replace_spec(self, name: str, spec: dict[str, Any]) -> None:
        body = cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name),
        )
        body["spec"] = spec
        self.custom.replace_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, body
        )

    def spec(self, name: str) -> dict[str, Any]:
        body = cast(
            Mapping[str, Any],
            self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name),
        )
        return dict(body["spec"])


@pytest.fixture
def api(api_client: Any, namespace: str, crd: str) -> Api:
    return Api(api_client, namespace)


def changed(**fields: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    for key, value in fields.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (changed(inputs=[{"name": "a", "type": "int", "value": 2}]), "spec.inputs"),
        (changed(image="busybox:2"), "spec.image"),
        (changed(cacheVersion=None), "spec.cacheVersion"),
        (changed(retries={"limit": 3}), "spec.retries"),
        (
            changed(env=[{"name": "MODE", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]),
            "spec.env",
        ),
        (changed(resources={"requests": {"memory": "64Mi"}}), "spec.resources"),
        (changed(podTemplate={"spec": {"priorityClassName": "x"}}), "spec.podTemplate"),
    ],
    ids=[
        "input-value",
        "image",
        "removed-field",
        "added-field",
        "env-value-to-source",
        "resources-key-swap",
        "pod-template-key-swap",
    ],
)
def test_a_spec_change_is_refused_naming_the_field(
    api: Api, spec: dict[str, Any], field: str
) -> None:
    name = api.create(SPEC)
    with pytest.raises(ApiException) as refused:
        api.replace_spec(name, spec)
    assert refused.value.status == 422
    assert f"{field}: Forbidden: {field} cannot change once the task exists" in str(
        refused.value.body
    )
    assert api.spec(name) == SPEC


def test_cancel_can_be_set_but_not_undone(api: Api) -> None:
    name = api.create(SPEC)
    api.replace_spec(name, {**SPEC, "cancel": True})
    assert api.spec(name)["cancel"] is True
    with pytest.raises(ApiException) as refused:
        api.replace_spec(name, {**SPEC, "cancel": False})
    assert "spec.cancel cannot be undone" in str(refused.value.body)


def test_cancel_together_with_another_change_is_refused(api: Api) -> None:
    name = api.create(SPEC)
    with pytest.raises(ApiException) as refused:
        api.replace_spec(name, changed(cancel=True, image="busybox:2"))
    assert "spec.image" in str(refused.value.body)


def test_metadata_still_changes(api: Api) -> None:
    name = api.create(SPEC)
    api.custom.patch_namespaced_custom_object(
        GROUP, VERSION, api.namespace, PLURAL, name, {"metadata": {"labels": {"x": "y"}}}
    )
    assert api.spec(name) == SPEC


@pytest.mark.parametrize(
    ("data_loading", "field"),
    [({"outputPath": "/proc/self"}, "outputPath"), ({"inputPath": "/dev/shm"}, "inputPath")],
    ids=["output-in-proc", "input-in-dev"],
)
def test_data_directories_in_kernel_file_systems_are_refused(
    api: Api, data_loading: dict[str, str], field: str
) -> None:
    with pytest.raises(ApiException) as refused:
        api.create({**SPEC, "dataLoading": data_loading})
    assert refused.value.status == 422
    assert f"spec.dataLoading.{field}" in str(refused.value.body)
