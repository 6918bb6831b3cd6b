"""The CRD on a real apiserver: installed and Established, documented for kubectl explain."""

from __future__ import annotations

import json

import pytest

import localcluster
from containertask.api.constants import CRD_NAME

pytestmark = pytest.mark.integration


def test_crd_is_established_and_accepted(cluster: localcluster.Cluster, crd: str) -> None:
    doc = json.loads(cluster.kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in doc["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert doc["status"]["acceptedNames"]["shortNames"] == ["ct"]


def test_kubectl_explain_shows_the_spec_documentation(
    cluster: localcluster.Cluster, crd: str
) -> None:
    out = cluster.kubectl("explain", "containertask.spec").stdout
    assert "DESCRIPTION" in out
    for field in ("image", "command", "inputs", "outputs", "dataLoading", "retries"):
        assert f"  {field}\t" in out or f"  {field} " in out, field
    nested = cluster.kubectl("explain", "containertask.spec.dataLoading.format").stdout
    assert "JSON" in nested and "PROTO" in nested
