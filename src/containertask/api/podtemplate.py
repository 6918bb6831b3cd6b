"""What a task's ``podTemplate`` may change in its pod, and what stays the operator's.

The template is laid under the pod the operator builds (``controller.pods.overlay``): it may add
labels, annotations, pod-level settings, volumes, extra init containers and native sidecars, and
settings of the main container. It may not touch the helpers — the downloader and uploader, their
volumes, their ``/tmp`` — which run with the object-store credentials; nor add a regular container
beside the main one, which would keep the pod running after the main container exits (the uploader
waits for every regular container). Settings that would let the task's containers read the
helpers' processes (a shared process namespace, the host's) are refused too.

:func:`check` is part of :meth:`TaskSpec` validation, so the SDK and the operator refuse the same
templates, naming the field; a refused task fails as InvalidSpec and gets no pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from containertask.api.constants import (
    COPILOT_TMP_VOLUME,
    DOWNLOADER_CONTAINER,
    INPUTS_VOLUME,
    MAIN_CONTAINER,
    OUTPUTS_VOLUME,
    UPLOADER_CONTAINER,
)
from containertask.api.errors import SpecError

HELPERS: Final = (DOWNLOADER_CONTAINER, UPLOADER_CONTAINER)
HELPER_VOLUMES: Final = (INPUTS_VOLUME, OUTPUTS_VOLUME, COPILOT_TMP_VOLUME)
TEMPLATE_KEYS: Final = ("metadata", "spec")
# Pod settings that would let the task's containers see the helpers' processes (and so their
# environment, which holds the object-store credentials).
SHARED_PROCESSES: Final = ("shareProcessNamespace", "hostPID")
WHERE: Final = "spec.podTemplate"


def check(template: Mapping[str, Any]) -> None:
    """Raise :class:`SpecError` naming the first field of ``template`` that is not the task's."""
    for key in template:
        if key not in TEMPLATE_KEYS:
            raise SpecError(f"{WHERE}.{key}", "not a pod template field", allowed="metadata, spec")
    spec = template.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise SpecError(f"{WHERE}.spec", "must be an object (a core/v1 PodSpec)", spec)
    for key in SHARED_PROCESSES:
        if spec.get(key):
            raise SpecError(
                f"{WHERE}.spec.{key}",
                "would let the task's containers read the helpers' processes and credentials",
                spec[key],
                allowed="false or unset",
            )
    for key in ("initContainers", "containers"):
        for i, container in enumerate(_objects(spec, key)):
            _check_container(container, key, i)
    for i, volume in enumerate(_objects(spec, "volumes")):
        if volume.get("name") in HELPER_VOLUMES:
            raise SpecError(
                f"{WHERE}.spec.volumes[{i}].name",
                "is a volume of the operator's",
                volume.get("name"),
                allowed=f"any name but {', '.join(HELPER_VOLUMES)}",
            )


def _objects(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = spec.get(key) or []
    if not isinstance(items, list):
        raise SpecError(f"{WHERE}.spec.{key}", "must be a list", items)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise SpecError(f"{WHERE}.spec.{key}[{i}]", "must be an object with a name", item)
    return items


def _check_container(container: Mapping[str, Any], key: str, i: int) -> None:
    where = f"{WHERE}.spec.{key}[{i}]"
    name = container["name"]
    if name in HELPERS:
        raise SpecError(
            f"{where}.name",
            "the downloader and uploader belong to the operator; a pod template cannot change them",
            name,
        )
    if key == "containers" and name != MAIN_CONTAINER:
        raise SpecError(
            where,
            f"an extra regular container ({name!r}) would keep the pod running after the main "
            "container exits",
            allowed=f"only {MAIN_CONTAINER!r} in containers; add others to initContainers with "
            "restartPolicy: Always (native sidecars)",
        )
    for j, mount in enumerate(container.get("volumeMounts") or ()):
        if isinstance(mount, Mapping) and mount.get("name") == COPILOT_TMP_VOLUME:
            raise SpecError(
                f"{where}.volumeMounts[{j}].name",
                "is the helpers' own /tmp",
                COPILOT_TMP_VOLUME,
            )
