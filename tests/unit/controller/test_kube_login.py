"""In a pod, the operator reaches the apiserver at the address the kubelet gives it."""

from __future__ import annotations

import kopf
import pytest

from containertask.controller import kube

IN_CLUSTER = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t")

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("host", "port", "server"),
    [
        ("10.96.0.1", "443", "https://10.96.0.1:443"),
        ("fd00::1", "6443", "https://[fd00::1]:6443"),
        (None, None, "https://kubernetes.default.svc"),
    ],
    ids=["ipv4", "ipv6", "no-service-env"],
)
def test_in_cluster_login_uses_the_service_address_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, host: str | None, port: str | None, server: str
) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: IN_CLUSTER)
    for name, value in (("KUBERNETES_SERVICE_HOST", host), ("KUBERNETES_SERVICE_PORT", port)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    info = kube.login(settings=kopf.OperatorSettings())
    assert info is not None
    assert info.server == server
    assert info.token == "t"


def test_outside_a_cluster_login_uses_the_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    from_kubeconfig = kopf.ConnectionInfo(server="https://127.0.0.1:6443")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: None)
    monkeypatch.setattr(kopf, "login_with_kubeconfig", lambda **_: from_kubeconfig)
    assert kube.login(settings=kopf.OperatorSettings()) == from_kubeconfig
