"""The one module that calls the Kubernetes API on the operator's own behalf (kopf does the
watching): create, read and delete pods, write ContainerTask status, post events.

A small aiohttp client, sharing the connection and credentials kopf logs in with, behind a token
bucket (``--qps``/``--burst``). Errors come out as :class:`ApiError` with the HTTP status, so the
reconciler can tell "already exists" and "conflict" from transient failures.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import kopf

from containertask.api import API_VERSION, KIND, PLURAL
from containertask.controller.clock import format_time
from containertask.controller.ratelimit import PriorityGate, TokenBucket

COMPONENT: Final = "containertask-operator"
MAX_IN_FLIGHT: Final = 48  # each TLS connection holds ~128 KiB of buffers
# Request priorities (lower goes first): a task's pod, then its status, then events.
URGENT: Final = 0
STATUS: Final = 1
EVENTS: Final = 2
MAX_EVENT_MESSAGE: Final = 1024
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"


class ApiError(Exception):
    """An error answer; ``message`` is the API's own (a metav1.Status message) when it sent one."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status
        self.message = _status_message(body) or body[:500]


def _status_message(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) and message else None


def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the kubeconfig (KUBECONFIG or ~/.kube/config); kopf and
    this client use the same identity.

    In a pod, the apiserver is the address the kubelet puts in ``KUBERNETES_SERVICE_HOST/PORT``
    (as client-go's in-cluster config does), not kopf's ``kubernetes.default.svc``: that name
    needs cluster DNS, which not every cluster runs."""
    account = kopf.login_with_service_account(settings=settings)
    if account is None:
        return kopf.login_with_kubeconfig(settings=settings)
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        return account
    host = f"[{host}]" if ":" in host else host
    return dataclasses.replace(account, server=f"https://{host}:{port}")


def _file_of(path: Any, data: Any, directory: str, name: str) -> str | None:
    """A file path for kubeconfig material given inline (base64) or as a path."""
    if path:
        return os.fspath(path) if not isinstance(path, bytes) else path.decode()
    if not data:
        return None
    target = Path(directory) / name
    target.write_bytes(base64.b64decode(data))
    return str(target)


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        context = ssl.create_default_context(cafile=_file_of(info.ca_path, info.ca_data, tmp, "ca"))
        cert = _file_of(info.certificate_path, info.certificate_data, tmp, "cert")
        key = _file_of(info.private_key_path, info.private_key_data, tmp, "key")
        if cert:
            context.load_cert_chain(cert, key)
    return context


class Client:
    """Typed calls on pods, ContainerTask status and events; one aiohttp session."""

    def __init__(
        self,
        connect: Callable[[], kopf.ConnectionInfo | None],
        bucket: TokenBucket,
        timeout: float,
        watch_timeout: float = 360.0,
    ) -> None:
        self._connect = connect
        self._bucket = bucket
        self._gate = PriorityGate(MAX_IN_FLIGHT, bucket)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # A watch may stay quiet (bookmarks aside) until the server ends it.
        self._watch_timeout = aiohttp.ClientTimeout(total=None, sock_read=watch_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self._instance = socket.gethostname()

    def _open(self) -> aiohttp.ClientSession:
        info = self._connect()
        if info is None:
            raise kopf.PermanentError("no credentials: neither a service account nor a kubeconfig")
        headers = {"Accept": "application/json"}
        if info.token:
            headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        auth = aiohttp.BasicAuth(info.username, info.password or "") if info.username else None
        self._server = info.server.rstrip("/")
        return aiohttp.ClientSession(
            headers=headers,
            auth=auth,
            timeout=self._timeout,
            # Requests are bounded by the gate; the few long-lived watches come on top.
            connector=aiohttp.TCPConnector(ssl=ssl_context(info), limit=0),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        priority: int = STATUS,
    ) -> Any:
        for attempt in (1, 2):
            if self._session is None:
                self._session = self._open()
            async with (
                self._gate.slot(priority),
                self._session.request(
                    method,
                    self._server + path,
                    json=body,
                    params=params,
                    headers={"Content-Type": content_type},
                ) as response,
            ):
                text = await response.text()
                status = response.status
            if status == 401 and attempt == 1:
                # A rotated service-account token: log in again once.
                await self.close()
                continue
            if status >= 400:
                raise ApiError(status, method, path, text)
            return json.loads(text) if text else None
        raise AssertionError("unreachable")  # pragma: no cover

    async def watch(self, path: str, params: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch of ``path``, each decoded as soon as its line is complete,
        until the server ends the watch."""
        if self._session is None:
            self._session = self._open()
        await self._bucket.acquire()
        async with self._session.get(
            self._server + path, params={**params, "watch": "true"}, timeout=self._watch_timeout
        ) as response:
            if response.status >= 400:  # 401 included: the caller's next list logs in again
                raise ApiError(response.status, "WATCH", path, await response.text())
            pending = b""
            async for chunk in response.content.iter_any():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)

    async def create_pod(self, pod: Mapping[str, Any]) -> Any:
        namespace = pod["metadata"]["namespace"]
        return await self.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods", pod, priority=URGENT
        )

    async def get_pod(self, namespace: str, name: str) -> Any:
        return await self.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{name}", priority=URGENT
        )

    async def find_pod(self, namespace: str, name: str) -> Any | None:
        """A live read of ``name``; None if it does not exist."""
        try:
            return await self.get_pod(namespace, name)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def remove_pod_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Take ``finalizer`` off the pod (a strategic merge patch touches no other finalizer);
        a pod already gone is not an error."""
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [finalizer]}}
        try:
            await self.request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                patch,
                content_type=STRATEGIC_MERGE_PATCH,
                priority=URGENT,
            )
        except ApiError as error:
            if error.status != 404:
                raise

    async def find_task(self, namespace: str, name: str) -> Any | None:
        """A live read of the ContainerTask ``name``; None if it does not exist."""
        try:
            return await self.request(
                "GET", f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}"
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def delete_task(self, namespace: str, name: str, uid: str) -> None:
        """Delete the ContainerTask ``name`` if it is still the one with ``uid`` (not a new task
        of the same name); its pods follow by garbage collection."""
        try:
            await self.request(
                "DELETE",
                f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}",
                {"preconditions": {"uid": uid}, "propagationPolicy": "Background"},
            )
        except ApiError as error:
            if error.status not in (404, 409):
                raise

    async def delete_pod(self, namespace: str, name: str, grace_seconds: int) -> None:
        """Delete ``name``; one already gone is not an error."""
        try:
            await self.request(
                "DELETE",
                f"/api/v1/namespaces/{namespace}/pods/{name}",
                {"gracePeriodSeconds": grace_seconds, "propagationPolicy": "Background"},
                priority=URGENT,
            )
        except ApiError as error:
            if error.status != 404:
                raise

    async def write_status(
        self,
        namespace: str,
        name: str,
        resource_version: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> Any:
        """Replace the status (fields gone from ``new`` are removed), only if the task is still at
        ``resource_version``: a stale decision is refused with 409 instead of overwriting."""
        status: dict[str, Any] = {key: None for key in old if key not in new}
        status.update(new)
        path = f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        patch = {"metadata": {"resourceVersion": resource_version}, "status": status}
        return await self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    async def post_event(
        self, task: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        meta = task["metadata"]
        now = datetime.now(UTC)
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": type_,
            "reason": reason,
            "message": message[:MAX_EVENT_MESSAGE],
            "source": {"component": COMPONENT},
            "reportingComponent": f"containertask.io/{COMPONENT}",
            "reportingInstance": self._instance,
            "firstTimestamp": format_time(now),
            "lastTimestamp": format_time(now),
            "count": 1,
        }
        await self.request(
            "POST", f"/api/v1/namespaces/{meta['namespace']}/events", event, priority=EVENTS
        )
