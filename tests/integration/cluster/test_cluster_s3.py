"""MinIO answers S3 calls with the credentials the cluster hands out."""

from __future__ import annotations

import uuid

import boto3
import pytest

import localcluster

pytestmark = pytest.mark.integration


def test_put_get_round_trip(cluster: localcluster.Cluster) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=cluster.s3_endpoint,
        aws_access_key_id=cluster.s3_access_key,
        aws_secret_access_key=cluster.s3_secret_key,
        region_name=cluster.s3_region,
    )
    key = f"roundtrip/{uuid.uuid4().hex}"
    payload = uuid.uuid4().bytes * 1000
    s3.put_object(Bucket=cluster.s3_bucket, Key=key, Body=payload)
    try:
        assert s3.get_object(Bucket=cluster.s3_bucket, Key=key)["Body"].read() == payload
    finally:
        s3.delete_object(Bucket=cluster.s3_bucket, Key=key)
