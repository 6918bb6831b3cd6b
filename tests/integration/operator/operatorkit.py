"""Helpers for operator tests: the operator as a subprocess, and ContainerTasks whose pods run on
kwok nodes, their outcomes from kwok's ``sim.containertask.io/*`` annotations."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

import localcluster
from containertask.api import GROUP, PLURAL, VERSION
from containertask.controller import naming
from localcluster import kwok

SIM = "sim.containertask.io"
ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "containertask"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """``containertask operator`` in a subprocess, watching one namespace."""

    def __init__(
        self, env: dict[str, str], args: list[str], log: Path, kopf_run: bool = False
    ) -> None:
        """``kopf_run``: start it as ``kopf run -m containertask.controller.handlers`` instead, with
        the operator's settings in the environment."""
        self.env, self.args, self.log, self.kopf_run = env, args, log, kopf_run
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(self.env)
        if self.kopf_run:
            env["CONTAINERTASK_METRICS_PORT"] = str(self.metrics_port)
            command = [
                str(Path(sys.executable).parent / "kopf"),
                "run",
                "-m",
                "containertask.controller.handlers",
                "--standalone",
                f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
                *self.args,
            ]
        else:
            command = [
                sys.executable,
                "-m",
                "containertask.cli",
                "operator",
                "--listen-address=127.0.0.1",
                f"--metrics-port={self.metrics_port}",
                f"--liveness-port={self.liveness_port}",
                *self.args,
            ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"operator exited: {self.log.read_text()[-3000:]}")
            if self.health() is not None:
                return
            time.sleep(0.2)
        raise TimeoutError(f"operator not live after 30s: {self.log.read_text()[-3000:]}")

    def health(self) -> int | None:
        """The HTTP status of /healthz (None: not answering)."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=5
            ) as r:
                return int(r.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())


class Tasks:
    """ContainerTasks and their pods in one namespace, through the real API."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def create(self, name: str, sim: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
        """A task running ``busybox`` on a kwok node, with kwok outcome annotations ``sim`` (keys
        without the ``sim.containertask.io/`` prefix)."""
        body_spec: dict[str, Any] = {"image": "busybox:1", "command": ["true"], **spec}
        template = dict(body_spec.get("podTemplate") or {})
        template["spec"] = kwok.on_kwok(template.get("spec") or {})
        body_spec["podTemplate"] = template
        if sim:
            annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
            annotations.update({f"{SIM}/{k}": v for k, v in sim.items()})
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ContainerTask",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": body_spec,
        }
        return dict(
            cast(
                Mapping[str, Any],
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, body
                ),
            )
        )

    def get(self, name: str) -> dict[str, Any]:
        return dict(
            cast(
                Mapping[str, Any],
                self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, name
                ),
            )
        )

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": spec}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def wait(
        self, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the status until ``check`` holds; the last status in the error otherwise."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(name)
            if check(status):
                return status
            time.sleep(0.2)
        raise TimeoutError(f"{name}: condition not met in {timeout}s; status: {status}")

    def wait_phase(self, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(name, lambda s: s.get("phase") == phase, timeout)

    def attempt_prefix(self, name: str, location: str, attempt: int = 1) -> str:
        """Where attempt ``attempt`` of task ``name`` writes its outputs, by the operator's rule."""
        uid = self.get(name)["metadata"]["uid"]
        return str(naming.output_prefix(location, self.namespace, name, uid, attempt))

    def annotate_pod(self, pod: str, sim: dict[str, str], timeout: float = 30) -> None:
        """Set kwok outcome annotations on a pod once it exists (before it completes: give the
        task a ``run-seconds``)."""
        deadline = time.monotonic() + timeout
        while pod not in self.pod_names():
            if time.monotonic() > deadline:
                raise TimeoutError(f"pod {pod} not created in {timeout}s")
            time.sleep(0.1)
        annotations = {f"{SIM}/{k}": v for k, v in sim.items()}
        self.core.patch_namespaced_pod(
            pod, self.namespace, {"metadata": {"annotations": annotations}}
        )

    def pods(self) -> list[Any]:
        return list(self.core.list_namespaced_pod(self.namespace).items)

    def pod_names(self) -> list[str]:
        return sorted(p.metadata.name for p in self.pods())

    def events(self, name: str) -> list[tuple[str | None, str | None, str | None]]:
        found = self.core.list_namespaced_event(
            self.namespace,
            field_selector=f"involvedObject.name={name},involvedObject.kind=ContainerTask",
        ).items
        return [(e.type, e.reason, e.message) for e in found]

    def wait_gone(self, pod: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while pod in self.pod_names():
            if time.monotonic() > deadline:
                raise TimeoutError(f"pod {pod} still exists after {timeout}s")
            time.sleep(0.2)


def run_helm(cluster: localcluster.Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cluster.helm_path), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def helm(cluster: localcluster.Cluster, *args: str) -> str:
    done = run_helm(cluster, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def token_kubeconfig(
    cluster: localcluster.Cluster, api_client: Any, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig that authenticates as ``namespace/account`` with a TokenRequest token."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    status = (
        client.CoreV1Api(api_client)
        .create_namespaced_service_account_token(account, namespace, request)
        .status
    )
    assert status is not None
    token = status.token
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [
            {"name": account, "context": {"cluster": admin["clusters"][0]["name"], "user": account}}
        ],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(config))
    return path
