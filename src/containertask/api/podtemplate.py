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


def check(
    template: Mapping[str, Any], *, primary: str = MAIN_CONTAINER, where: str = "spec.podTemplate"
) -> None:
    """Raise :class:`SpecError` naming the first field of ``template`` that is not the task's.
    ``primary`` is the name under which the template's main container may also appear; ``where``
    names the template in errors (a PodTemplate object rather than the spec's own)."""
    for key in template:
        if key not in TEMPLATE_KEYS:
            raise SpecError(f"{where}.{key}", "not a pod template field", allowed="metadata, spec")
    spec = template.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}.spec", "must be an object (a core/v1 PodSpec)", spec)
    mains = (MAIN_CONTAINER, primary)
    for key in SHARED_PROCESSES:
        if spec.get(key):
            raise SpecError(
                f"{where}.spec.{key}",
                "would let the task's containers read the helpers' processes and credentials",
                spec[key],
                allowed="false or unset",
            )
    for key in ("initContainers", "containers"):
        for i, container in enumerate(_objects(spec, key, where)):
            _check_container(container, f"{where}.spec.{key}[{i}]", key == "containers", mains)
    for i, volume in enumerate(_objects(spec, "volumes", where)):
        if volume.get("name") in HELPER_VOLUMES:
            raise SpecError(
                f"{where}.spec.volumes[{i}].name",
                "is a volume of the operator's",
                volume.get("name"),
                allowed=f"any name but {', '.join(HELPER_VOLUMES)}",
            )


def _objects(spec: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = spec.get(key) or []
    if not isinstance(items, list):
        raise SpecError(f"{where}.spec.{key}", "must be a list", items)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise SpecError(f"{where}.spec.{key}[{i}]", "must be an object with a name", item)
    return items


def _check_container(
    container: Mapping[str, Any], where: str, regular: bool, mains: tuple[str, ...]
) -> None:
    name = container["name"]
    if name in HELPERS:
        raise SpecError(
            f"{where}.name",
            "the downloader and uploader belong to the operator; a pod template cannot change them",
            name,
        )
    if regular and name not in mains:
        raise SpecError(
            where,
            f"an extra regular container ({name!r}) would keep the pod running after the main "
            "container exits",
            allowed=f"only the main container ({' or '.join(dict.fromkeys(mains))}) in "
            "containers; add others to initContainers with restartPolicy: Always (native sidecars)",
        )
    for j, mount in enumerate(container.get("volumeMounts") or ()):
        if isinstance(mount, Mapping) and mount.get("name") == COPILOT_TMP_VOLUME:
            raise SpecError(
                f"{where}.volumeMounts[{j}].name",
                "is the helpers' own /tmp",
                COPILOT_TMP_VOLUME,
            )
