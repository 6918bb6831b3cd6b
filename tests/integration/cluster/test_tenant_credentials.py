"""The README's per-namespace storage policy, applied by the cluster's real MinIO: credentials
limited by it to namespace A's prefix let the copilot's storage layer write and read A's outputs
and refuse every read, write and listing of namespace B's. (The credentials are MinIO STS
credentials whose session policy is the README's policy, the same restriction a MinIO user with
that policy attached gets.)"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import boto3
import pytest

import localcluster
from containertask.storage import Storage, StorageError

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_policy(bucket: str, prefix: str, namespace: str) -> str:
    """The policy document the README tells admins to use, with its placeholders filled in."""
    text = README.read_text()
    block = re.search(r"<!-- tenant-policy:.*?-->\n```json\n(.*?)```", text, re.DOTALL)
    assert block, "the README lost its tenant policy"
    policy = block.group(1)
    for placeholder, value in (("BUCKET", bucket), ("PREFIX", prefix), ("NAMESPACE", namespace)):
        policy = policy.replace(placeholder, value)
    json.loads(policy)
    return policy


def tenant_storage(
    cluster: localcluster.Cluster, policy: str, monkeypatch: pytest.MonkeyPatch
) -> Storage:
    """A Storage holding credentials restricted by ``policy`` (read from the environment, as in a
    task pod's helpers)."""
    sts = boto3.client(
        "sts",
        endpoint_url=cluster.s3_endpoint,
        aws_access_key_id=cluster.s3_access_key,
        aws_secret_access_key=cluster.s3_secret_key,
        region_name=cluster.s3_region,
    )
    credentials = sts.assume_role(
        RoleArn="arn:xxx:xxx:xxx:xxxx",
        RoleSessionName="tenant",
        Policy=policy,
        DurationSeconds=900,
    )["Credentials"]
    for key, value in cluster.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    return Storage()


def test_one_namespaces_credentials_cannot_reach_anothers_outputs(
    cluster: localcluster.Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"tenants-{uuid.uuid4().hex[:8]}"
    root = f"s3://{cluster.s3_bucket}/{prefix}"
    theirs = f"{root}/team-b/task/uid/attempt-1/outputs.pb"
    with monkeypatch.context() as admin:
        for key, value in cluster.env().items():
            if key.startswith("AWS_"):
                admin.setenv(key, value)
        Storage().write_bytes(theirs, b"team b's results")

    team_a = tenant_storage(
        cluster, readme_policy(cluster.s3_bucket, prefix, "team-a"), monkeypatch
    )

    mine = f"{root}/team-a/task/uid/attempt-1/outputs.pb"
    team_a.write_bytes(mine, b"team a's results")
    assert team_a.read_bytes(mine) == b"team a's results"
    assert team_a.list(f"{root}/team-a") == [mine]
    for refused in (
        lambda: team_a.read_bytes(theirs),
        lambda: team_a.write_bytes(theirs, b"overwritten"),
        lambda: team_a.write_bytes(f"{root}/team-b/new", b"planted"),
        lambda: team_a.list(f"{root}/team-b"),
        lambda: team_a.write_bytes(f"{root}/team-a-evil/x", b"beside my prefix"),
    ):
        with pytest.raises(StorageError):
            refused()
    with monkeypatch.context() as admin:
        for key, value in cluster.env().items():
            if key.startswith("AWS_"):
                admin.setenv(key, value)
        admin.delenv("AWS_SESSION_TOKEN")
        assert Storage().read_bytes(theirs) == b"team b's results"
