"""Applies :func:`decide` to the cluster, one task at a time.

It keeps the newest view of every ContainerTask (from the watch and from its own status writes),
runs at most one reconcile per task at once (a trigger during a run makes the run go again), and
schedules the next look when a deadline or backoff is due. Each reconcile follows the
sample-controller order: read the task and its pods; create the pod if absent (AlreadyExists from
a pod it controls is success; a pod controlled by anyone else is never adopted); write status,
only when it changed, and only on top of the version it read; then act on what the status now
records: delete what must stop, and release the tracking finalizer of pods whose result is in.
A pod the apiserver refuses is judged by :func:`decide.refused`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

import aiohttp

from containertask.api import Phase, SpecError, TaskSpec, TaskStatus, podtemplate
from containertask.api.cache import cache_key
from containertask.api.constants import LABEL_ATTEMPT, TRACKING_FINALIZER
from containertask.controller import naming, refusals
from containertask.controller import pods as podbuilder
from containertask.controller.decide import (
    CacheHit,
    Decision,
    Event,
    Policy,
    Task,
    decide,
    refused,
)
from containertask.controller.kube import ApiError, Client
from containertask.controller.metrics import Metrics
from containertask.controller.podwarnings import PodWarning
from containertask.controller.settings import OperatorSettings

logger = logging.getLogger(__name__)

CONFLICT_RETRY_SECONDS: Final = 30.0
UNSEEN_RETRY_SECONDS: Final = 10.0  # a namespace whose pods cannot be listed yet
SERIALIZE_POLL_SECONDS: Final = 5.0  # a task waiting for its identical twin looks again
MAX_ERROR_DELAY: Final = 60.0

PodLookup = Callable[[str], Iterable[Mapping[str, Any]]]
WarningLookup = Callable[[Mapping[str, Any]], PodWarning | None]


def controlled_by(pod: Mapping[str, Any], uid: str) -> bool:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or ()
    return any(r.get("controller") and r.get("uid") == uid for r in refs)


class PodRefusedError(Exception):
    """The apiserver refused a pod for now: the reconcile is retried with backoff."""


def _name(pod: Mapping[str, Any]) -> str:
    return str(pod["metadata"]["name"])


def _version(body: Mapping[str, Any]) -> int:
    """The resourceVersion as a number (etcd revisions grow), to keep the newest view."""
    try:
        return int(body["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class Reconciler:
    def __init__(
        self,
        client: Client,
        settings: OperatorSettings,
        pods: PodLookup,
        metrics: Metrics | None = None,
        sees: Callable[[str], bool] = lambda _: True,
        warnings: WarningLookup = lambda _: None,
    ) -> None:
        """``pods`` gives the pods a task controls (by uid); ``sees`` whether the pods of a
        namespace are known, without which no decision is taken there; ``warnings`` the latest
        Warning event that explains why a pod has not started."""
        self._client = client
        self._settings = settings
        self._pods = pods
        self._sees = sees
        self._warnings = warnings
        self._metrics = metrics
        self._policy = Policy(
            settings.pending_timeout_seconds,
            settings.cancel_grace_seconds,
            disruption_limit=settings.disruption_limit,
            output_location=settings.output_location,
        )
        self._tasks: dict[str, dict[str, Any]] = {}
        self._phases: Counter[str] = Counter()
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}  # (namespace, key) -> (uid, name)
        self._cache_keys: dict[str, tuple[str, str]] = {}  # uid -> its (namespace, key)
        self._queue: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failures: Counter[str] = Counter()
        self._background: set[asyncio.Task[None]] = set()

    # --- the view of tasks -------------------------------------------------------------------

    def observe(self, body: Mapping[str, Any]) -> str | None:
        """Record ``body`` if it is newer than what is known; its uid if so, else None."""
        uid = str(body["metadata"]["uid"])
        known = self._tasks.get(uid)
        if known is not None and _version(known) >= _version(body):
            return None
        if known is not None:
            self._phases[self._phase_of(known)] -= 1
        self._tasks[uid] = dict(body)
        self._phases[self._phase_of(body)] += 1
        self._index_cache(uid, body)
        return uid

    def forget(self, uid: str) -> None:
        known = self._tasks.pop(uid, None)
        if known is not None:
            self._phases[self._phase_of(known)] -= 1
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        cached = self._cache_keys.pop(uid, None)
        if cached is not None and self._cache.get(cached, ("",))[0] == uid:
            del self._cache[cached]
        self._failures.pop(uid, None)

    def phases(self) -> dict[str, int]:
        return {phase: n for phase, n in self._phases.items() if n}

    @staticmethod
    def _phase_of(body: Mapping[str, Any]) -> str:
        return str((body.get("status") or {}).get("phase") or Phase.PENDING)

    def _index_cache(self, uid: str, body: Mapping[str, Any]) -> None:
        """Succeeded tasks with a cacheVersion, by cache key, for later identical tasks."""
        status = body.get("status") or {}
        spec = body.get("spec") or {}
        if status.get("phase") != Phase.SUCCEEDED or not spec.get("cacheVersion"):
            return
        try:
            key = cache_key(TaskSpec.from_dict(spec))
        except SpecError:
            return
        if key is not None:
            where = (body["metadata"]["namespace"], key)
            self._cache[where] = (uid, body["metadata"]["name"])
            self._cache_keys[uid] = where

    def _cache_hit(
        self, namespace: str, spec: TaskSpec | SpecError, status: Mapping[str, Any]
    ) -> CacheHit | None:
        if isinstance(spec, SpecError) or not spec.cache_version or status.get("attempts"):
            return None
        key = cache_key(spec)
        found = self._cache.get((namespace, key)) if key else None
        body = self._tasks.get(found[0]) if found else None
        if found is None or body is None:
            return None
        return CacheHit(found[1], TaskStatus.from_dict(body.get("status")))

    def _twin_running(self, uid: str, task: Task) -> bool:
        """Whether ``task`` (not started, ``cacheSerialize``) must wait for an identical task in
        its namespace: one that is running, or one not started yet that came first (so two
        created together do not both start)."""
        spec = task.spec
        if isinstance(spec, SpecError) or not spec.cache_serialize or task.status.get("attempts"):
            return False
        key = cache_key(spec)
        mine = self._tasks[uid]["metadata"]
        my_turn = (mine.get("creationTimestamp") or "", mine["name"])
        for other_uid, body in self._tasks.items():
            status, meta = body.get("status") or {}, body["metadata"]
            if (
                other_uid == uid
                or meta["namespace"] != task.namespace
                or Phase(status.get("phase") or Phase.PENDING).is_terminal
                or not (body.get("spec") or {}).get("cacheSerialize")
                or (
                    not status.get("attempts")
                    and (meta.get("creationTimestamp") or "", meta["name"]) > my_turn
                )
            ):
                continue
            try:
                if cache_key(TaskSpec.from_dict(body["spec"])) == key:
                    return True
            except SpecError:
                continue
        return False

    # --- scheduling ----------------------------------------------------------------------------

    def trigger(self, uid: str) -> None:
        """Queue a reconcile of ``uid`` (client-go's workqueue): a task is queued at most once, and
        one triggered while being reconciled is queued again when that pass ends. kopf's handlers
        return at once, so kopf drops the (large) raw event; a fixed number of workers bounds the
        reconciles, and the memory they hold, however many events arrive."""
        if uid in self._running:
            self._again.add(uid)
        elif uid not in self._queued:
            self._queued.add(uid)
            # A task never started goes first: its pod is what a waiting user needs next.
            body = self._tasks.get(uid)
            fresh = body is not None and not (body.get("status") or {}).get("attempts")
            self._queue.put_nowait((0 if fresh else 1, next(self._order), uid))

    def start(self, workers: int) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(workers)]

    async def _work(self) -> None:
        while True:
            _, _, uid = await self._queue.get()
            self._queued.discard(uid)
            self._running.add(uid)
            try:
                await self._reconcile_and_schedule(uid)
            finally:
                self._running.discard(uid)
                if uid in self._again:
                    self._again.discard(uid)
                    self.trigger(uid)

    def _schedule(self, uid: str, delay: float | None) -> None:
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        if delay is not None and uid in self._tasks:
            self._timers[uid] = asyncio.get_running_loop().call_later(delay, self.trigger, uid)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        pending = [*self._workers, *self._background]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _reconcile_and_schedule(self, uid: str) -> None:
        started = time.perf_counter()
        try:
            delay = await self.reconcile(uid)
            self._failures.pop(uid, None)
        except Exception as error:  # transient: requeue with backoff, never drop the task
            self._failures[uid] += 1
            delay = min(0.5 * 2 ** self._failures[uid], MAX_ERROR_DELAY)
            logger.warning("reconcile of %s failed, retrying in %.1fs: %s", uid, delay, error)
            if self._metrics:
                self._metrics.reconcile_errors.inc()
        if self._metrics:
            self._metrics.reconcile_seconds.observe(time.perf_counter() - started)
        body = self._tasks.get(uid)
        if body is not None and delay is None and not Phase(self._phase_of(body)).is_terminal:
            delay = self._settings.resync_seconds  # a safety net: look again even if nothing moves
        self._schedule(uid, delay)

    # --- one reconcile -------------------------------------------------------------------------

    def _task(self, body: Mapping[str, Any]) -> Task:
        meta = body["metadata"]
        try:
            spec: TaskSpec | SpecError = TaskSpec.from_dict(body.get("spec") or {})
        except SpecError as error:
            spec = error
        return Task(
            meta["name"],
            meta["namespace"],
            meta["uid"],
            int(meta.get("generation") or 1),
            spec,
            body.get("status") or {},
            meta.get("creationTimestamp"),
        )

    def _owned_pods(self, uid: str) -> dict[int, Mapping[str, Any]]:
        found: dict[int, Mapping[str, Any]] = {}
        for pod in self._pods(uid):
            label = ((pod.get("metadata") or {}).get("labels") or {}).get(LABEL_ATTEMPT, "")
            if controlled_by(pod, uid) and label.isdigit():
                found[int(label)] = pod
        return found

    async def reconcile(self, uid: str) -> float | None:
        """One pass for the task ``uid``; returns when to look again (None: on change only)."""
        body = self._tasks.get(uid)
        if body is None:
            await self._release_orphans(uid)
            return None
        if not self._sees(body["metadata"]["namespace"]):
            return UNSEEN_RETRY_SECONDS  # deciding without its pods could duplicate or misjudge
        if body["metadata"].get("deletionTimestamp"):
            # Going: its results no longer matter, and garbage collection removes its pods.
            await self._release(body["metadata"]["namespace"], self._owned_pods(uid).values())
            return None
        task = self._task(body)
        pods = self._owned_pods(uid)
        cache_hit = self._cache_hit(task.namespace, task.spec, task.status)
        if cache_hit is None and self._twin_running(uid, task):
            # Cache(serialize=True): wait for the identical task, then reuse its outputs.
            return SERIALIZE_POLL_SECONDS
        warnings = {n: w for n, pod in pods.items() if (w := self._warnings(pod)) is not None}
        decision = decide(task, pods, datetime.now(UTC), self._policy, cache_hit, warnings=warnings)
        if decision.confirm is not None:
            pods, gone = await self._look_up(task, pods, decision.confirm)
            decision = decide(
                task, pods, datetime.now(UTC), self._policy, cache_hit, gone, warnings
            )
        if decision.create is not None:
            assert isinstance(task.spec, TaskSpec)  # decide never creates a pod for a bad spec
            outcome = await self._create(body, task, task.spec, decision.create, pods)
            if outcome == "conflict":
                return CONFLICT_RETRY_SECONDS
            if outcome == "refused":
                return None
        if decision.status is not None and not await self._write_status(body, task, decision):
            return None  # the task changed meanwhile; its watch event triggers the next pass
        for deletion in decision.delete:
            await self._client.delete_pod(task.namespace, deletion.name, deletion.grace_seconds)
            logger.info(
                "deleted pod %s/%s (grace %ss)",
                task.namespace,
                deletion.name,
                deletion.grace_seconds,
            )
        await self._release(
            task.namespace, (p for p in pods.values() if _name(p) in decision.release)
        )
        for event in decision.events:
            self._post_later(body, event)
        if decision.delete_task:
            await self._client.delete_task(task.namespace, task.name, task.uid)
            logger.info("deleted %s/%s: ttlSecondsAfterFinished passed", task.namespace, task.name)
            return None
        return decision.requeue_after

    async def _look_up(
        self, task: Task, pods: dict[int, Mapping[str, Any]], name: str
    ) -> tuple[dict[int, Mapping[str, Any]], frozenset[int]]:
        """Read a pod missing from the watch: the pods with it if it exists, else its attempt
        as confirmed gone."""
        found = await self._client.find_pod(task.namespace, name)
        number = next(
            (a.number for a in TaskStatus.from_dict(task.status).attempts if a.pod == name), 0
        )
        if found is not None and controlled_by(found, task.uid):
            return {**pods, number: found}, frozenset()
        return pods, frozenset({number})

    async def _release(self, namespace: str, pods: Iterable[Mapping[str, Any]]) -> None:
        """Take the tracking finalizer off ``pods`` (those that still hold it)."""
        for pod in pods:
            if TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ()):
                await self._client.remove_pod_finalizer(namespace, _name(pod), TRACKING_FINALIZER)

    async def _release_orphans(self, uid: str) -> None:
        """Pods of a task the operator does not know: released once a live read says the task
        is gone (at startup, a task may merely not have been listed yet)."""
        owned = self._owned_pods(uid)
        if not owned:
            return
        meta = next(iter(owned.values()))["metadata"]
        owner = next(r for r in meta.get("ownerReferences") or () if r.get("uid") == uid)
        found = await self._client.find_task(meta["namespace"], owner["name"])
        if found is None or found["metadata"].get("uid") != uid:
            await self._release(meta["namespace"], owned.values())

    async def _create(
        self,
        body: Mapping[str, Any],
        task: Task,
        spec: TaskSpec,
        attempt: int,
        pods: Mapping[int, Mapping[str, Any]],
    ) -> Literal["created", "conflict", "refused"]:
        owner = podbuilder.Owner(task.name, task.namespace, task.uid)
        try:
            named = await self._named_template(task.namespace, spec)
        except SpecError as error:
            # The named PodTemplate reaches for the operator's helpers: bad input, final.
            await self._refused(body, task, attempt, pods, 422, str(error))
            return "refused"
        except ApiError as error:
            # Not found: the task names a PodTemplate that does not exist (bad input, final);
            # anything else may pass and is asked again with backoff.
            missing = error.status == 404
            message = (
                f"podTemplateName: PodTemplate {task.namespace}/{spec.pod_template_name} not found"
                if missing
                else error.message
            )
            await self._refused(
                body, task, attempt, pods, 422 if missing else error.status, message
            )
            return "refused"
        except (aiohttp.ClientError, TimeoutError) as error:
            await self._refused(body, task, attempt, pods, None, str(error) or repr(error))
            return "refused"
        pod = podbuilder.build_pod(owner, spec, attempt, self._settings, named)
        name = pod["metadata"]["name"]
        try:
            await self._client.create_pod(pod)
        except ApiError as error:
            if error.status == 409:
                return await self._exists(body, task, name)
            await self._refused(body, task, attempt, pods, error.status, error.message)
            return "refused"
        except (aiohttp.ClientError, TimeoutError) as error:
            await self._refused(body, task, attempt, pods, None, str(error) or repr(error))
            return "refused"
        logger.info("created pod %s/%s (attempt %d)", task.namespace, name, attempt)
        if self._metrics:
            self._metrics.pods_created.inc()
        return "created"

    async def _named_template(self, namespace: str, spec: TaskSpec) -> dict[str, Any] | None:
        """The ``template`` of the PodTemplate ``spec.podTemplateName`` names, if any, held to
        the same rules as the task's own podTemplate."""
        if not spec.pod_template_name:
            return None
        found = await self._client.get_pod_template(namespace, spec.pod_template_name)
        template = dict(found.get("template") or {})
        podtemplate.check(
            template,
            primary=spec.primary_container,
            where=f"PodTemplate {namespace}/{spec.pod_template_name}",
        )
        return template

    async def _exists(
        self, body: Mapping[str, Any], task: Task, name: str
    ) -> Literal["created", "conflict"]:
        existing = await self._client.get_pod(task.namespace, name)
        if not controlled_by(existing, task.uid):
            # Never adopt what someone else controls; say so and look again later.
            message = (
                f"pod {name} exists and is not controlled by this ContainerTask; not adopting it"
            )
            self._post_later(body, Event("Warning", "PodConflict", message))
            return "conflict"
        return "created"  # by an earlier pass: AlreadyExists is success

    async def _refused(
        self,
        body: Mapping[str, Any],
        task: Task,
        attempt: int,
        pods: Mapping[int, Mapping[str, Any]],
        code: int | None,
        message: str,
    ) -> None:
        """Record a refused pod; a refusal that may pass raises, so the pass is retried with
        backoff."""
        refusal = refusals.classify(code, message)
        decision = refused(task, attempt, refusal, pods, datetime.now(UTC), self._policy)
        written = decision.status is None or await self._write_status(body, task, decision)
        if written:
            for event in decision.events:
                self._post_later(body, event)
        ended = decision.status is not None and Phase(decision.status["phase"]).is_terminal
        if not refusal.final and not ended:
            pod = naming.pod_name(task.name, attempt)
            raise PodRefusedError(f"pod {pod}: {refusal.reason}: {message}")

    async def _write_status(self, body: Mapping[str, Any], task: Task, decision: Decision) -> bool:
        assert decision.status is not None
        meta = body["metadata"]
        try:
            updated = await self._client.write_status(
                task.namespace,
                task.name,
                str(meta.get("resourceVersion")),
                task.status,
                decision.status,
            )
        except ApiError as error:
            if error.status in (404, 409):
                return False
            raise
        meta = updated["metadata"]
        self.observe(
            {**updated, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        )
        phase = Phase(decision.status["phase"])
        if phase.is_terminal:
            logger.info(
                "%s/%s %s: %s", task.namespace, task.name, phase, decision.status.get("message")
            )
            if self._metrics:
                self._metrics.tasks_finished.labels(
                    str(phase), decision.status.get("reason") or ""
                ).inc()
        return True

    def _post_later(self, body: Mapping[str, Any], event: Event) -> None:
        """Post in the background: events never hold up the next task's pod."""
        task = asyncio.get_running_loop().create_task(self._post(body, event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _post(self, body: Mapping[str, Any], event: Event) -> None:
        """Events are best effort: a failure to post one never fails a reconcile."""
        try:
            await self._client.post_event(body, event.type, event.reason, event.message)
        except Exception as error:
            logger.warning("could not post event %s: %s", event.reason, error)
