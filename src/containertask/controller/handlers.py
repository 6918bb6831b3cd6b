"""kopf wiring, kept thin: settings at startup, a pod index, and events that trigger reconciles.

``kopf run -m containertask.controller.handlers`` runs these with settings from the environment;
``containertask operator`` runs them with settings from its flags (passed in the operator memo).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from containertask.api import GROUP, KIND, PLURAL, VERSION
from containertask.api.constants import LABEL_MANAGED_BY
from containertask.api.spec import plain
from containertask.controller import kube, naming
from containertask.controller import settings as operator_settings
from containertask.controller.diffbase import NoDiffBase
from containertask.controller.metrics import Metrics
from containertask.controller.ratelimit import TokenBucket
from containertask.controller.reconciler import Reconciler

OURS = {LABEL_MANAGED_BY: naming.MANAGER}
# What decisions read, so the operator's memory does not grow with managedFields and the like.
_TASK_METADATA = (
    "name",
    "namespace",
    "uid",
    "generation",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
)
_POD_FIELDS = {
    "metadata": (
        "name",
        "namespace",
        "labels",
        "ownerReferences",
        "creationTimestamp",
        "deletionTimestamp",
    ),
    "status": (
        "phase",
        "reason",
        "message",
        "conditions",
        "containerStatuses",
        "initContainerStatuses",
    ),
}


def _owner_uid(body: Mapping[str, Any]) -> str | None:
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if (
            ref.get("controller")
            and ref.get("kind") == KIND
            and ref.get("apiVersion", "").startswith(GROUP)
        ):
            return str(ref["uid"])
    return None


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
    return kube.login(settings=settings)


@kopf.index("pods", labels=OURS)
async def pods_by_owner(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    """Our pods by the uid of the ContainerTask controlling them, trimmed to what decisions read.
    kopf fills indexes before any handler runs, so a restarted operator sees every existing pod.
    (``async``: kopf runs plain functions in a thread pool, a hop per pod event.)"""
    owner = _owner_uid(body)
    if owner is None:
        return {}
    return {owner: _slim(body, _POD_FIELDS)}


def _slim(body: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {
        part: {k: plain(body[part][k]) for k in keys if k in (body.get(part) or {})}
        for part, keys in fields.items()
    }


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    """Every operator setting, in one place."""
    pods: kopf.Index[str, Any] = kwargs["pods_by_owner"]
    ours: operator_settings.OperatorSettings = memo.get("settings") or operator_settings.from_env()
    logging.getLogger().setLevel(ours.log_level)
    if ours.log_level != "DEBUG":
        # kopf logs every watch event a handler saw; the operator logs what it did instead.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # The operator posts its own events (with reasons users can filter); kopf's would duplicate them.
    settings.posting.enabled = False
    # One replica (Deployment strategy Recreate): no peering objects, no RBAC for them.
    settings.peering.standalone = True
    # Resources are discovered once at startup: no RBAC to list CRDs or namespaces is needed.
    settings.scanning.disabled = True
    # No on.create/on.update handlers: kopf's per-event deep copy for change detection is waste.
    settings.persistence.diffbase_storage = NoDiffBase()
    # Watch only our pods, server-side: other pods in the namespace never reach the operator.
    settings.watching.label_selectors["pods"] = f"{LABEL_MANAGED_BY}={naming.MANAGER}"
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_server_timeout + 60
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = ours.request_timeout
    settings.networking.connect_timeout = 10
    client = kube.Client(
        lambda: kube.login(settings=settings),
        TokenBucket(ours.qps, ours.burst),
        ours.request_timeout,
    )
    reconciler: Reconciler
    metrics = Metrics(lambda: reconciler.phases())
    reconciler = Reconciler(client, ours, lambda uid: pods.get(uid, ()), metrics)
    reconciler.start(ours.workers)
    memo["reconciler"] = reconciler
    memo["client"] = client
    memo["stop_metrics"] = (
        metrics.serve(ours.listen_address, ours.metrics_port) if ours.metrics_port else None
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    await memo["reconciler"].close()
    await memo["client"].close()
    if memo.get("stop_metrics"):
        memo["stop_metrics"]()


@kopf.on.event(GROUP, VERSION, PLURAL)
async def task_changed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    reconciler: Reconciler = memo["reconciler"]
    if event.get("type") == "DELETED":
        reconciler.forget(str(body["metadata"]["uid"]))
        return
    slim = {**_slim(body, {"metadata": _TASK_METADATA}), "spec": plain(body.get("spec") or {})}
    uid = reconciler.observe({**slim, "status": plain(body.get("status") or {})})
    if uid is not None:  # not an echo of the operator's own status write
        reconciler.trigger(uid)


@kopf.on.event("pods", labels=OURS)
async def pod_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    owner = _owner_uid(body)
    if owner is not None:
        memo["reconciler"].trigger(owner)
