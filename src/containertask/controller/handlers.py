"""kopf wiring, kept thin: settings at startup, task events that trigger reconciles, and two
informers started beside kopf: our own list + watch of pods (:mod:`informer`) and of the Warning
events that say why a pod does not start (:mod:`podwarnings`).

``kopf run -m containertask.controller.handlers`` runs these with settings from the environment;
``containertask operator`` runs them with settings from its flags (passed in the operator memo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from containertask.api import GROUP, PLURAL, VERSION
from containertask.api.constants import LABEL_MANAGED_BY
from containertask.api.spec import plain
from containertask.controller import kube, naming
from containertask.controller import settings as operator_settings
from containertask.controller.diffbase import NoDiffBase
from containertask.controller.informer import PodInformer
from containertask.controller.metrics import Metrics
from containertask.controller.podwarnings import WarningInformer
from containertask.controller.ratelimit import TokenBucket
from containertask.controller.reconciler import Reconciler
from containertask.controller.views import TASK_FIELDS, slim

OURS = f"{LABEL_MANAGED_BY}={naming.MANAGER}"


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
    return kube.login(settings=settings)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Every operator setting, in one place."""
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
    # A watch the server should have ended a minute ago has stalled: drop it and watch again.
    read_timeout = ours.watch_server_timeout + 60
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = read_timeout
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = ours.request_timeout
    settings.networking.connect_timeout = 10
    client = kube.Client(
        lambda: kube.login(settings=settings),
        TokenBucket(ours.qps, ours.burst),
        ours.request_timeout,
        watch_timeout=read_timeout,
    )
    reconciler: Reconciler
    metrics = Metrics(lambda: reconciler.phases())
    informer = PodInformer(
        client,
        ours.namespaces,
        OURS,
        lambda uid: reconciler.trigger(uid),
        ours.watch_server_timeout,
    )
    warnings = WarningInformer(
        client,
        ours.namespaces,
        informer.owner_of,
        lambda uid: reconciler.trigger(uid),
        ours.watch_server_timeout,
    )
    reconciler = Reconciler(
        client,
        ours,
        informer.pods_of,
        metrics,
        sees=informer.sees,
        warnings=warnings.warning_for,
    )
    loop = asyncio.get_running_loop()
    memo["reconciler"] = reconciler
    memo["client"] = client
    memo["pods"] = informer
    memo["informers"] = [loop.create_task(informer.run()), loop.create_task(warnings.run())]
    # Decisions wait for the first listing of pods: a restarted operator sees what it made.
    memo["start"] = loop.create_task(_start_when_synced(informer, reconciler, ours.workers))
    memo["stop_metrics"] = (
        metrics.serve(ours.listen_address, ours.metrics_port) if ours.metrics_port else None
    )


async def _start_when_synced(informer: PodInformer, reconciler: Reconciler, workers: int) -> None:
    await informer.synced.wait()
    reconciler.start(workers)


@kopf.on.probe(id="pods")
def pods_visible(memo: kopf.Memo, **_: Any) -> str:
    """/healthz fails when the operator can see pods in none of its namespaces (a restart may
    help: new credentials, a new connection); one namespace denied is only logged."""
    informer: PodInformer | None = memo.get("pods")
    blind = informer.blind if informer is not None else None
    if blind is not None:
        raise kopf.PermanentError(f"cannot list pods in any watched namespace: {blind}")
    return "ok"


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    for task in (memo["start"], *memo["informers"]):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
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
    view = {**slim(body, TASK_FIELDS), "spec": plain(body.get("spec") or {})}
    uid = reconciler.observe({**view, "status": plain(body.get("status") or {})})
    if uid is not None:  # not an echo of the operator's own status write
        reconciler.trigger(uid)
