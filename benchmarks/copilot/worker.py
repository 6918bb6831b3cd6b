"""One transfer in this process, for ``bench_transfer.py``: ``worker.py TOOL OP SRC DST``.

Kept apart from the benchmark so a tool's process imports only what the tool needs (start-up
counts in its time); prints the seconds the transfer itself took.
"""

from __future__ import annotations

import concurrent.futures
import sys
import time
from collections.abc import Callable
from pathlib import Path

RAW_THREADS = 32  # connections of the trivial small-object client


def main() -> None:
    name, op, src, dst = sys.argv[1:5]
    prepare = _prepare_raw(name, op, src, dst) if name.startswith("raw") else None
    start = time.perf_counter()
    if prepare is not None:
        prepare()
    else:
        _transfer(name, op, src, dst)
    print(f"transfer-seconds {time.perf_counter() - start:.3f}")


def _prepare_raw(name: str, op: str, src: str, dst: str) -> Callable[[], object]:
    """The trivial client's transfer, with its URLs presigned before the clock starts."""
    import raw_s3

    presigner = raw_s3.Presigner()
    if op == "upload-large":
        url = presigner.url("PUT", dst)
        return lambda: raw_s3.put(url, Path(src))
    if op == "download-large":
        url = presigner.url("GET", src)
        to = Path(dst) if name == "raw-download" else None
        return lambda: raw_s3.get(url, to)
    if op == "upload-small":
        files = sorted(p for p in Path(src).rglob("*") if p.is_file())
        body = files[0].read_bytes()
        urls = [presigner.url("PUT", f"{dst}/{p.relative_to(src).as_posix()}") for p in files]
        return lambda: raw_s3.put_many(urls, body, RAW_THREADS)
    bucket, _, prefix = src.removeprefix("s3://").partition("/")
    import boto3

    keys = [
        o["Key"]
        for page in boto3.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=prefix + "/")
        for o in page.get("Contents", [])
    ]
    urls = [presigner.url("GET", f"s3://{bucket}/{key}") for key in keys]
    return lambda: raw_s3.get_many(urls, RAW_THREADS)


def _transfer(tool: str, op: str, src: str, dst: str) -> None:
    if tool == "containertask":
        from containertask.storage import Storage

        storage = Storage()
        calls: dict[str, Callable[[], object]] = {
            "upload-large": lambda: storage.upload_file(src, dst),
            "download-large": lambda: storage.download_file(src, dst),
            "upload-small": lambda: storage.upload_dir(src, dst),
            "download-small": lambda: storage.download_dir(src, dst),
        }
        calls[op]()
        return
    import boto3
    from boto3.s3.transfer import TransferConfig

    client = boto3.client("s3")
    config = TransferConfig(max_concurrency=10)

    def split(uri: str) -> tuple[str, str]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bucket, key

    if op == "upload-large":
        client.upload_file(src, *split(dst), Config=config)
    elif op == "download-large":
        client.download_file(*split(src), dst, Config=config)
    elif op == "upload-small":
        bucket, prefix = split(dst)
        files = [p for p in Path(src).rglob("*") if p.is_file()]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda p: client.upload_file(
                        str(p), bucket, f"{prefix}/{p.relative_to(src).as_posix()}"
                    ),
                    files,
                )
            )
    else:
        bucket, prefix = split(src)
        keys = [
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix + "/"
            )
            for o in page.get("Contents", [])
        ]

        def fetch(key: str) -> None:
            target = Path(dst, key[len(prefix) + 1 :])
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            list(pool.map(fetch, keys))


if __name__ == "__main__":
    main()
