"""The SDK's only contact with the Kubernetes API: ContainerTask resources and their pods' logs.

Configuration comes from the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``) or, inside a pod,
from the service account; the default namespace is the kubeconfig context's, the pod's own, or
``default``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, cast

from kubernetes import client, config, watch

from containertask.api.constants import GROUP, PLURAL, VERSION

_IN_CLUSTER_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
Event = tuple[str, dict[str, Any]]


class Client:
    """ContainerTask operations on one cluster."""

    def __init__(self, api_client: Any = None, namespace: str | None = None) -> None:
        self.api_client = api_client
        self.namespace = namespace or "default"
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    @classmethod
    def from_config(cls, kubeconfig: str | None = None, context: str | None = None) -> Client:
        """From the kubeconfig, or the in-cluster service account when there is none.

        ``KUBECONFIG`` is read now (the kubernetes package reads it once, at import)."""
        kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
        try:
            api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context
            )
        except config.ConfigException:
            if kubeconfig is not None or not _IN_CLUSTER_NAMESPACE.exists():
                raise
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return cls(client.ApiClient(), _IN_CLUSTER_NAMESPACE.read_text().strip())
        contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
        if context is not None:
            active = next(c for c in contexts if c["name"] == context)
        return cls(api, (active.get("context") or {}).get("namespace"))

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        namespace = manifest["metadata"].get("namespace") or self.namespace
        return cast(
            dict[str, Any],
            self._custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, dict(manifest)
            ),
        )

    def get(self, name: str, namespace: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
        )

    def get_current(self, name: str, namespace: str) -> tuple[dict[str, Any] | None, str]:
        """The resource (None if absent) and the collection's resourceVersion: a watch from
        there misses nothing, even when the object itself has not changed for a long time."""
        listing = cast(
            dict[str, Any],
            self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, field_selector=f"metadata.name={name}"
            ),
        )
        items = listing.get("items") or []
        return (items[0] if items else None), listing["metadata"]["resourceVersion"]

    def watch(
        self, name: str, namespace: str, resource_version: str, timeout_seconds: int
    ) -> Iterator[Event]:
        """Events of one resource after ``resource_version`` for at most ``timeout_seconds``.

        An expired resource version raises ``ApiException`` with status 410: list again."""
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds,
        )
        for event in stream:
            yield event["type"], event["raw_object"]

    def cancel(self, name: str, namespace: str) -> dict[str, Any]:
        """Ask the operator to stop the task (``spec.cancel: true``)."""
        return cast(
            dict[str, Any],
            self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, {"spec": {"cancel": True}}
            ),
        )

    def patch_status(self, name: str, namespace: str, status: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``status`` into the status subresource (the operator's job; tests use it)."""
        return cast(
            dict[str, Any],
            self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)}
            ),
        )

    def delete(self, name: str, namespace: str) -> None:
        self._custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def pod_logs(self, pod: str, namespace: str, container: str) -> str:
        return self._core.read_namespaced_pod_log(pod, namespace, container=container)
