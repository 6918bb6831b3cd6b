"""Bring the local cluster up, take it down, report on it, and describe it to tests."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import images, kwok, minio, node, nodenet, processes
from localcluster.build import ensure_built
from localcluster.components import COMPONENTS, COMPONENTS_BY_NAME, Component, Context
from localcluster.config import S3_BUCKET, S3_REGION, USER_BINARIES, Settings
from localcluster.kubeconfig import write_kubeconfig
from localcluster.layout import Layout
from localcluster.log import event
from localcluster.pki import CLIENTS, Pki, ensure_pki
from localcluster.probes import wait_for
from localcluster.state import State


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    """What a test (or a shell, through ``hack/cluster env``) needs to use the running cluster."""

    run_dir: Path
    kubeconfig: Path
    api_server: str
    bin_dir: Path
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str = S3_BUCKET
    s3_region: str = S3_REGION
    # The real node, when this run directory runs it: its name and MinIO as its pods reach it.
    node_name: str | None = None
    pod_s3_endpoint: str | None = None
    examples_image: str | None = None  # what `hack/cluster images` builds from examples/

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm_path(self) -> Path:
        return self.bin_dir / "helm"

    @property
    def s5cmd_path(self) -> Path:
        return self.bin_dir / "s5cmd"

    def env(self) -> dict[str, str]:
        """The variables ``hack/cluster env`` exports (PATH prefixed with the tool dir)."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_REGION": self.s3_region,
            "CONTAINERTASK_TEST_BUCKET": self.s3_bucket,
            **(
                {"CONTAINERTASK_EXAMPLES_IMAGE": self.examples_image} if self.examples_image else {}
            ),
            "PATH": os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")]),
        }

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    health: str  # "ok", "unhealthy" or "stopped"


@dataclass
class UpResult:
    cluster: Cluster
    started: list[str] = field(default_factory=list)
    seconds: float = 0.0


@contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _context(settings: Settings) -> Context:
    layout = Layout(settings.run_dir)
    layout.make_dirs()
    return Context(settings, layout, ensure_pki(layout.pki_dir), State.load(layout.state))


def info(settings: Settings | None = None) -> Cluster:
    settings = settings or Settings()
    layout = Layout(settings.run_dir)
    state = State.load(layout.state)
    if "kube-apiserver" not in state.ports:
        raise ClusterError(f"no cluster in {layout.root}: run `hack/cluster up` first")
    node_name = pod_s3_endpoint = examples_image = None
    if node.runs_here(layout):
        node_name = nodenet.NODE_NAME
        pod_s3_endpoint = f"http://{nodenet.NODE_IP}:{state.ports['minio-forward']}"
        if images.BUSYBOX.exists():  # the examples image's tag is a digest of busybox too
            examples_image = images.examples_ref(settings).ref
    return Cluster(
        run_dir=layout.root,
        kubeconfig=layout.kubeconfig,
        api_server=f"https://127.0.0.1:{state.ports['kube-apiserver']}",
        bin_dir=layout.bin_dir,
        s3_endpoint=f"http://127.0.0.1:{state.ports['minio']}",
        s3_access_key=state.s3_access_key,
        s3_secret_key=state.s3_secret_key,
        node_name=node_name,
        pod_s3_endpoint=pod_s3_endpoint,
        examples_image=examples_image,
    )


def _components(settings: Settings, layout: Layout) -> list[Component]:
    """The control plane, and the real node when it is on (or still runs from an earlier up)."""
    with_node = settings.real_node or node.runs_here(layout)
    return [*COMPONENTS, *(node.COMPONENTS if with_node else ())]


def _by_name(name: str) -> Component:
    return COMPONENTS_BY_NAME.get(name) or next(c for c in node.COMPONENTS if c.name == name)


def _running(ctx: Context, comp: Component) -> int | None:
    found = processes.running(ctx.layout.pid(comp.name), ctx.layout.root)
    if found is None:
        return None
    pid, binary = found
    if binary != ctx.settings.binary(comp.binary):  # a different build: replace it
        processes.stop(comp.name, pid, binary, ctx.layout.root)
        return None
    return pid


def _assign_ports(ctx: Context, to_start: list[Component]) -> set[str]:
    """Pick ports for components about to start; returns the port names that changed."""
    starting = {name for comp in to_start for name in comp.ports}
    taken = {p for name, p in ctx.state.ports.items() if name not in starting}
    changed = set()
    for comp in to_start:
        for name, default in comp.ports.items():
            previous = ctx.state.ports.get(name)
            port = processes.free_port(previous or default, taken)
            taken.add(port)
            if port != previous:
                changed.add(name)
            ctx.state.ports[name] = port
    ctx.state.save(ctx.layout.state)
    return changed


def _write_configs(ctx: Context) -> None:
    write_kubeconfig(ctx.layout.kubeconfig, ctx.apiserver_url, ctx.pki, "admin")
    for identity in CLIENTS:
        path = ctx.layout.component_kubeconfig(identity)
        write_kubeconfig(path, ctx.apiserver_url, ctx.pki, identity)
    kwok.write_config(ctx.layout.config("kwok.yaml"))
    for name in USER_BINARIES:
        link = ctx.layout.bin_dir / name
        target = ctx.settings.binary(name)
        if not link.is_symlink() or link.readlink() != target:
            link.unlink(missing_ok=True)
            link.symlink_to(target)


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 16384))
        return "\n  ".join(f.read().decode(errors="replace").splitlines()[-lines:])


class _Starter:
    """Starts what is not running, in dependency order; on any failure (a component that exits
    or is not ready in time, a bug, Ctrl-C, SIGTERM) it stops what it started before raising."""

    def __init__(self, ctx: Context, components: list[Component]) -> None:
        self.ctx = ctx
        self.components = components
        self.started: list[str] = []
        self.attempted: list[str] = []  # failed while starting: may have left state behind
        self.pending: dict[str, int] = {}  # started or found; readiness not yet confirmed

    def run(self) -> list[str]:
        ctx = self.ctx
        pids = {c.name: _running(ctx, c) for c in self.components}
        changed = _assign_ports(ctx, [c for c in self.components if pids[c.name] is None])
        _write_configs(ctx)
        try:
            for comp in self.components:
                self._start(comp, pids[comp.name], changed)
            for name in list(self.pending):
                self._wait_ready(name)
        except ClusterError:
            raise  # _fail stopped everything already
        except BaseException:
            self.stop_started()
            raise
        return self.started

    def _start(self, comp: Component, pid: int | None, changed: set[str]) -> None:
        ctx = self.ctx
        if pid is not None and any(p.split(".")[0] in comp.needs for p in changed):
            # A dependency moved to another port: restart with the new configuration.
            processes.stop(comp.name, pid, ctx.settings.binary(comp.binary), ctx.layout.root)
            pid = None
        for need in comp.needs:
            self._wait_ready(need)
        if pid is None:
            log, pid_file = ctx.layout.log(comp.name), ctx.layout.pid(comp.name)
            try:
                comp.before_start(ctx)
                argv = [str(ctx.settings.binary(comp.binary)), *comp.argv(ctx)]
                pid = processes.start(comp.name, argv, log, pid_file, comp.env(ctx))
            except (OSError, subprocess.CalledProcessError, *node.ERRORS) as exc:
                self.attempted.append(comp.name)
                raise self._fail(comp, str(exc)) from exc
            self.started.append(comp.name)
        self.pending[comp.name] = pid

    def _wait_ready(self, name: str) -> None:
        if name not in self.pending:
            return
        ctx, comp, pid = self.ctx, _by_name(name), self.pending.pop(name)
        binary = ctx.settings.binary(comp.binary)
        why = wait_for(
            comp.probe(ctx, ctx.port(comp.name)),
            comp.timeout,
            lambda: processes.is_ours(pid, binary, ctx.layout.root),
        )
        if why:
            raise self._fail(comp, why)
        event("component.ready", component=name, pid=pid, port=ctx.port(name))

    def stop_started(self) -> None:
        names = {*self.started, *self.attempted}
        _stop(self.ctx, [c for c in reversed(self.components) if c.name in names])

    def _fail(self, comp: Component, why: str) -> ClusterError:
        """Stop what this run started; the error names the component and its log."""
        self.stop_started()
        log = self.ctx.layout.log(comp.name)
        if why == "exited":
            return ClusterError(f"{comp.name} exited during start; log {log}:\n  {_tail(log)}")
        if why == "timeout":
            return ClusterError(f"{comp.name} not ready after {comp.timeout:.0f}s; see {log}")
        return ClusterError(f"{comp.name} could not be started: {why}; see {log}")


def _ensure_nodes(cluster: Cluster, count: int) -> None:
    """Exactly ``count`` kwok nodes, Ready, and a ``default`` service account to run pods as."""
    cluster.kubectl("apply", "-f", "-", input=kwok.node_manifest(count))
    names = cluster.kubectl("get", "nodes", "-l", kwok.NODE_LABEL, "-o", "name").stdout.split()
    wanted = {f"node/{kwok.node_name(i)}" for i in range(count)}
    extra = [n for n in names if n not in wanted]
    if extra:
        cluster.kubectl("delete", "--wait=false", *extra)
    cluster.kubectl("wait", "--for=condition=Ready", *sorted(wanted), "--timeout=60s")
    cluster.kubectl("wait", "--for=create", "-n", "default", "sa/default", "--timeout=60s")


def up(settings: Settings | None = None) -> UpResult:
    """Start whatever is not running and healthy; idempotent."""
    settings = settings or Settings()
    began = time.monotonic()
    ensure_built(settings)
    layout = Layout(settings.run_dir)
    with _locked(layout):
        ctx = _context(settings)
        if settings.real_node:
            try:
                node.claim(layout)
            except node.NodeError as exc:
                raise ClusterError(str(exc)) from exc
        starter = _Starter(ctx, _components(settings, layout))
        started = starter.run()
        cluster = info(settings)
        try:
            _ensure_nodes(cluster, settings.nodes)
            if settings.real_node:
                node.wait_ready(ctx)
            s3 = minio.s3_client(cluster.s3_endpoint, cluster.s3_access_key, cluster.s3_secret_key)
            minio.ensure_bucket(s3, cluster.s3_bucket)
        except BaseException as exc:
            starter.stop_started()
            if isinstance(exc, Exception):
                raise ClusterError(f"post-start setup failed: {exc}") from exc
            raise
    seconds = round(time.monotonic() - began, 1)
    event("cluster.up", run_dir=layout.root, started=",".join(started) or "-", seconds=seconds)
    return UpResult(cluster, started, seconds)


def _stop_one(ctx: Context, comp: Component) -> bool:
    pid_path = ctx.layout.pid(comp.name)
    recorded = processes.read_pid(pid_path)
    stopped = False
    if recorded and processes.is_ours(*recorded, ctx.layout.root):
        comp.before_stop(ctx)
        stopped = processes.stop(comp.name, *recorded, ctx.layout.root)
        comp.after_stop(ctx)
    pid_path.unlink(missing_ok=True)
    return stopped


def _stop(ctx: Context, comps: Iterable[Component]) -> list[str]:
    """Stop ``comps`` (in the order given); the real node's as one unit, before the rest: its pods
    drained first, the host restored after."""
    comps = list(comps)
    ours = [c for c in comps if c.name in node.NAMES]
    stopped = []
    if ours:
        apiserver = COMPONENTS_BY_NAME["kube-apiserver"]
        apiserver_up = _running(ctx, apiserver) is not None
        node.drain(ctx, apiserver_up)
        stopped += [c.name for c in ours if _stop_one(ctx, c)]
        left = node.teardown(ctx, apiserver_up)
        if left:
            event("node.not_clean", left=",".join(left), level=logging.WARNING)
    stopped += [c.name for c in comps if c.name not in node.NAMES and _stop_one(ctx, c)]
    return stopped


def down(
    settings: Settings | None = None, components: Iterable[str] | None = None, purge: bool = False
) -> list[str]:
    """Stop the named components (default: all) started from this run directory."""
    settings = settings or Settings()
    layout = Layout(settings.run_dir)
    if not layout.root.exists():
        return []
    every = [*COMPONENTS, *node.COMPONENTS]
    names = set(components) if components is not None else {c.name for c in every}
    with _locked(layout):
        ctx = Context(settings, layout, Pki(layout.pki_dir), State.load(layout.state))
        stopped = _stop(ctx, [c for c in reversed(every) if c.name in names])
        if components is None:  # nothing left for a session to stop
            (layout.root / ".session-started").unlink(missing_ok=True)
        if purge:
            for entry in layout.root.iterdir():
                if entry != layout.lock:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    event("cluster.down", run_dir=layout.root, stopped=",".join(stopped) or "-", purged=purge)
    return stopped


def status(settings: Settings | None = None) -> list[ComponentStatus]:
    settings = settings or Settings()
    layout = Layout(settings.run_dir)
    state = State.load(layout.state)
    # The node's rows once it was started here (a pid file stays if a daemon died).
    started_node = any(layout.pid(c.name).exists() for c in node.COMPONENTS)
    result = []
    for comp in [*COMPONENTS, *(node.COMPONENTS if started_node else ())]:
        found = processes.running(layout.pid(comp.name), layout.root)
        port = state.ports.get(comp.name)
        health = "stopped"
        if found and port:
            ctx = Context(settings, layout, Pki(layout.pki_dir), state)
            health = "ok" if comp.probe(ctx, port)() else "unhealthy"
        result.append(ComponentStatus(comp.name, found[0] if found else None, port, health))
    return result


@contextmanager
def session(settings: Settings | None = None, keep: bool = False) -> Iterator[Cluster]:
    """The cluster for the length of a ``with`` block (a pytest session).

    Brings it up, reusing what runs. Components started by sessions are recorded; the last
    session to finish stops them, so a cluster started by hand (``hack/cluster up``) or by a
    session with ``keep`` is left alone, and one session never stops the cluster under another.
    Each session holds a shared lock on ``<run>/.sessions`` while it runs.
    """
    settings = settings or Settings()
    layout = Layout(settings.run_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    record = layout.root / ".session-started"
    with (layout.root / ".sessions").open("w") as fd:
        fcntl.flock(fd, fcntl.LOCK_SH)  # before up: a finishing session must not stop it under us
        result = up(settings)
        if result.started and not keep:
            with _locked(layout):
                known = set(json.loads(record.read_text())) if record.exists() else set()
                record.write_text(json.dumps(sorted(known | set(result.started))))
        try:
            yield result.cluster
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                event("cluster.kept", reason="another session uses it", run_dir=layout.root)
            else:
                if not keep and record.exists():
                    down(settings, components=json.loads(record.read_text()))
                    record.unlink()
