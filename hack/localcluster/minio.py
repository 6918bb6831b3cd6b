"""The S3 side: a boto3 client for the local MinIO and the test bucket."""

from __future__ import annotations

from typing import Any

from localcluster.config import S3_REGION
from localcluster.log import event


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    # Imported here: boto3 is slow to import and only needed once MinIO is up.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=S3_REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def ensure_bucket(client: Any, bucket: str) -> None:
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
        event("s3.bucket_created", bucket=bucket)
