"""Why a scheduled pod does not start, from the Warning events posted about it.

The kubelet posts a failed image pull as an event at once (reason ``Failed``, ``Failed to pull
image ...``), but writes ``ErrImagePull`` into the pod's status only at its next sync of the pod,
10-15 s later (the pod worker's back-off after a failed sync). A volume that cannot be mounted (a
missing Secret) or a sandbox that cannot be made shows up only as events: the pod's status stays
``ContainerCreating``. So the operator watches Warning events about pods, narrowed by a field
selector on the server, and keeps the latest one that explains a wait for each of its pods.

Events are reports, not facts, and anyone who may create events in a namespace may write one:
a warning only explains a wait in the task's status; the pending deadline, never an event, ends
the attempt. An event speaks only for a pod of its own namespace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from containertask.controller.clock import parse_time
from containertask.controller.conditions import clip
from containertask.controller.kube import Client
from containertask.controller.listwatch import ListWatch

FIELD_SELECTOR: Final = "involvedObject.kind=Pod,type=Warning"
MAX_MESSAGE: Final = 1024
MIN_PRUNE: Final = 64
# Warnings that explain a pod still waiting to start, as the status reason they stand for.
AS_IS: Final = frozenset(
    {
        "ErrImageNeverPull",
        "InspectFailed",
        "FailedMount",
        "FailedMapVolume",
        "FailedAttachVolume",
        "FailedCreatePodSandBox",
    }
)
_CONTAINER: Final = re.compile(r"\{([^{}]+)\}$")  # spec.containers{main}

PodKey = tuple[str, str]  # (namespace, name)
OwnerOf = Callable[[str, str, str], str | None]  # (namespace, name, pod uid) -> task uid


@dataclass(frozen=True)
class PodWarning:
    """The latest explanation of why pod ``pod_uid`` has not started."""

    pod_uid: str
    reason: str  # as a pod status would say it: ErrImagePull, FailedMount, ...
    message: str
    container: str | None
    at: datetime | None


def status_reason(reason: str, message: str) -> str | None:
    """The waiting reason a Warning event stands for; None if it does not explain a wait."""
    if reason == "Failed":
        # "Error: ErrImagePull" follows the detailed "Failed to pull image ..." and says less.
        return "ErrImagePull" if message.startswith("Failed to pull image") else None
    if reason == "BackOff":
        return "ImagePullBackOff" if message.startswith("Back-off pulling image") else None
    return reason if reason in AS_IS else None


def read_warning(event: Mapping[str, Any]) -> tuple[PodKey, PodWarning] | None:
    """The pod an event is about and what it explains; None if it explains no wait, or speaks
    for a pod of another namespace."""
    involved = event.get("involvedObject") or {}
    namespace = (event.get("metadata") or {}).get("namespace")
    message = str(event.get("message") or "")
    reason = status_reason(str(event.get("reason") or ""), message)
    if reason is None or not namespace or involved.get("namespace") != namespace:
        return None
    found = _CONTAINER.search(str(involved.get("fieldPath") or ""))
    at = parse_time(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    warning = PodWarning(
        str(involved.get("uid") or ""),
        reason,
        clip(message, MAX_MESSAGE) or "",
        found.group(1) if found else None,
        at,
    )
    return (str(namespace), str(involved.get("name"))), warning


def _newer(warning: PodWarning, known: PodWarning | None) -> bool:
    if known is None or known.pod_uid != warning.pod_uid:
        return True
    return known.at is None or warning.at is None or warning.at >= known.at


class WarningInformer(ListWatch):
    """The latest :class:`PodWarning` of each of the operator's pods in ``namespaces``;
    ``owner_of`` says whether a pod is ours (the task that controls it), and that task hears of
    each new warning through ``on_change``."""

    def __init__(
        self,
        client: Client,
        namespaces: Iterable[str],
        owner_of: OwnerOf,
        on_change: Callable[[str], None],
        watch_seconds: int,
    ) -> None:
        selector = {"fieldSelector": FIELD_SELECTOR}
        super().__init__(client, namespaces, "events", selector, watch_seconds)
        self._owner_of = owner_of
        self._on_change = on_change
        self._latest: dict[PodKey, PodWarning] = {}
        self._prune_at = MIN_PRUNE

    def warning_for(self, pod: Mapping[str, Any]) -> PodWarning | None:
        meta = pod.get("metadata") or {}
        known = self._latest.get((str(meta.get("namespace")), str(meta.get("name"))))
        return known if known is not None and known.pod_uid == meta.get("uid") else None

    def apply(self, kind: str, obj: Mapping[str, Any]) -> Hashable:
        read = read_warning(obj) if kind != "DELETED" else None  # an expired event said its piece
        if read is None:
            return (obj.get("metadata") or {}).get("uid")
        key, warning = read
        owner = self._owner_of(*key, warning.pod_uid)
        if owner is None or not _newer(warning, self._latest.get(key)):
            return key
        self._latest[key] = warning
        self._prune()
        self._on_change(owner)
        return key

    def listed(self, namespace: str | None, seen: set[Hashable]) -> None:
        self._prune(force=True)

    def failed(self, namespace: str | None, why: str) -> None:
        """Warnings already known stay until their pods go; the base class logs the failure."""

    def _prune(self, *, force: bool = False) -> None:
        """Forget the warnings of pods that are gone, once their number has doubled."""
        if len(self._latest) < self._prune_at and not force:
            return
        self._latest = {
            key: w for key, w in self._latest.items() if self._owner_of(*key, w.pod_uid)
        }
        self._prune_at = max(MIN_PRUNE, 2 * len(self._latest))
