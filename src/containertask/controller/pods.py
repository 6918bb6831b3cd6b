"""TaskSpec + attempt number -> Pod (a plain dict). Pure: no API calls, no clock.

The pod of one attempt, in the order the kubelet runs it::

    initContainers: [uploader (native sidecar: restartPolicy Always), downloader]
    containers:     [main]
    volumes:        inputs, outputs (emptyDir, at dataLoading.inputPath / outputPath), copilot-tmp

The uploader is listed first so that it is running before the main container starts, and the pod's
grace period covers the upload, since the kubelet stops a native sidecar only after the main
container has exited. Each injected container has its own small builder that returns None when the
task does not need it.

The helpers are the operator's alone: the task's podTemplate is laid under this pod, and
:mod:`containertask.api.podtemplate` refuses templates that name a helper, its volumes or an extra
regular container, so nothing of the template reaches the helpers. A pod whose task names no
service account gets no API token.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from containertask.api import API_VERSION, KIND, CopilotConfig, TaskSpec
from containertask.api.constants import (
    COPILOT_CONFIG_ENV,
    COPILOT_TMP_VOLUME,
    DOWNLOADER_CONTAINER,
    INPUTS_VOLUME,
    LABEL_ATTEMPT,
    LABEL_MANAGED_BY,
    LABEL_TASK,
    MAIN_CONTAINER,
    OUTPUTS_VOLUME,
    TRACKING_FINALIZER,
    UPLOADER_CONTAINER,
)
from containertask.controller import naming
from containertask.controller.settings import OperatorSettings

HELPER_USER: Final = 65532  # the "nonroot" user of distroless-style images
GRACE_MARGIN_SECONDS: Final = 10  # for the uploader to start and report, beyond the upload itself
TERMINATION_LOG: Final = "/dev/termination-log"


@dataclass(frozen=True)
class Owner:
    """The ContainerTask a pod belongs to."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """The controller owner reference: garbage collection deletes the pod with its task."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def copilot_config(
    owner: Owner, spec: TaskSpec, attempt: int, settings: OperatorSettings
) -> CopilotConfig:
    location = spec.output_location or settings.output_location
    prefix = naming.output_prefix(location, owner.namespace, owner.name, owner.uid, attempt)
    return CopilotConfig.for_attempt(spec, prefix, inline_limit_bytes=settings.inline_limit_bytes)


def needs_uploader(spec: TaskSpec) -> bool:
    return spec.data_loading.upload_mode != "none"


def needs_downloader(spec: TaskSpec) -> bool:
    has_inputs = bool(spec.inputs) or spec.inputs_uri is not None
    return has_inputs and spec.data_loading.download_mode != "none"


def build_pod(
    owner: Owner, spec: TaskSpec, attempt: int, settings: OperatorSettings
) -> dict[str, Any]:
    """The pod of ``attempt`` (1-based) of the task ``owner``."""
    config = copilot_config(owner, spec, attempt, settings).to_json()
    init = [
        c
        for c in (
            uploader_container(spec, config, settings),
            downloader_container(spec, config, settings),
        )
        if c is not None
    ]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": upload_seconds(spec, settings) + GRACE_MARGIN_SECONDS,
        "enableServiceLinks": False,
        "initContainers": init,
        "containers": [main_container(spec)],
        "volumes": [
            {"name": INPUTS_VOLUME, "emptyDir": {}},
            {"name": OUTPUTS_VOLUME, "emptyDir": {}},
            {"name": COPILOT_TMP_VOLUME, "emptyDir": {}},
        ],
    }
    template = copy.deepcopy(dict(spec.pod_template or {}))
    template_meta = template.get("metadata") or {}
    template_spec = template.get("spec") or {}
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    elif not template_spec.get("serviceAccountName"):
        # No account named: the pod runs as the namespace's default account, without its token.
        pod_spec["automountServiceAccountToken"] = False
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in spec.tolerations]
    labels = {
        LABEL_TASK: naming.label_value(owner.name),
        LABEL_ATTEMPT: str(attempt),
        LABEL_MANAGED_BY: naming.MANAGER,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": naming.pod_name(owner.name, attempt),
            "namespace": owner.namespace,
            "labels": {**(template_meta.get("labels") or {}), **labels},
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [owner.reference()],
            "finalizers": [TRACKING_FINALIZER],
        },
        "spec": overlay(template_spec, pod_spec),
    }


def upload_seconds(spec: TaskSpec, settings: OperatorSettings) -> int:
    return spec.upload_timeout_seconds or settings.upload_timeout_seconds


def main_container(spec: TaskSpec) -> dict[str, Any]:
    """The user's container: command and arguments with ``{{.inputs.x}}`` rendered."""
    dl = spec.data_loading
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "image": spec.image,
        "volumeMounts": [
            {"name": INPUTS_VOLUME, "mountPath": dl.input_path},
            {"name": OUTPUTS_VOLUME, "mountPath": dl.output_path},
        ],
        # The last lines of the log explain a crash when the program writes no message itself.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if spec.command:
        container["command"] = spec.render(spec.command)
    if spec.arguments:
        container["args"] = spec.render(spec.arguments)
    if spec.env:
        container["env"] = [dict(e) for e in spec.env]
    if spec.resources:
        container["resources"] = copy.deepcopy(dict(spec.resources))
    return container


def uploader_container(
    spec: TaskSpec, config: str, settings: OperatorSettings
) -> dict[str, Any] | None:
    """The native sidecar that uploads outputs after the main container exits and reports an
    UploadResult as its termination message."""
    if not needs_uploader(spec):
        return None
    container = _helper(
        UPLOADER_CONTAINER,
        "upload",
        OUTPUTS_VOLUME,
        spec.data_loading.output_path,
        config,
        settings,
    )
    container["restartPolicy"] = "Always"
    return container


def downloader_container(
    spec: TaskSpec, config: str, settings: OperatorSettings
) -> dict[str, Any] | None:
    """The init container that writes the inputs into ``inputPath`` before the main container starts."""
    if not needs_downloader(spec):
        return None
    return _helper(
        DOWNLOADER_CONTAINER,
        "download",
        INPUTS_VOLUME,
        spec.data_loading.input_path,
        config,
        settings,
    )


def _helper(
    name: str, verb: str, volume: str, path: str, config: str, settings: OperatorSettings
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": settings.copilot_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["containertask", "copilot", verb],
        "env": [
            {"name": COPILOT_CONFIG_ENV, "value": config},
            {"name": "TMPDIR", "value": "/tmp"},
        ],
        "volumeMounts": [
            {"name": volume, "mountPath": path},
            {"name": COPILOT_TMP_VOLUME, "mountPath": "/tmp"},
        ],
        "resources": settings.helper_resources.to_dict(),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": HELPER_USER,
            "runAsGroup": HELPER_USER,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
    }
    if settings.copilot_secret:
        container["envFrom"] = [{"secretRef": {"name": settings.copilot_secret}}]
    return container


def overlay(base: Any, ours: Any) -> Any:
    """``ours`` laid over ``base`` (the task's podTemplate): mappings merge key by key, lists of
    named items (containers, env, volumes) merge by name with ours first, anything else is ours."""
    if isinstance(base, Mapping) and isinstance(ours, Mapping):
        merged = dict(base)
        for key, value in ours.items():
            merged[key] = overlay(base[key], value) if key in base else value
        return merged
    if _is_named_list(base) and _is_named_list(ours):
        theirs = {item["name"]: item for item in base}
        own_names = {item["name"] for item in ours}
        merged_list = [overlay(theirs[i["name"]], i) if i["name"] in theirs else i for i in ours]
        return merged_list + [item for item in base if item["name"] not in own_names]
    return ours


def _is_named_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in value
    )
