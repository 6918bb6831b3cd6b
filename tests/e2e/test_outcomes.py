"""How an attempt ends, judged from real containers: the kubelet's exit codes and OOM kills, the
real uploader's report, and the typed outputs it stored in MinIO.

Each task is a shell script in the examples image (busybox), run by the session's operator."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import final_status, shell_task, task_pods

import containertask
import localcluster
from containertask import Phase
from containertask.controller import naming
from containertask.storage import Storage
from localcluster import deploy
from localcluster.images import Image

pytestmark = pytest.mark.e2e

RunTask = Callable[..., containertask.Run]
ONE_RETRY = containertask.RetryStrategy(count=1, backoff=1)
GIB = 1 << 30

TYPED_OUTPUTS = """
set -eu
cd /var/outputs
echo 42 > count
echo 2.5 > ratio
printf 'hello world' > greeting
echo false > flag
echo report-body > report
mkdir -p tree/sub nums
echo one > tree/a.txt
echo two > tree/sub/b.txt
for i in 0 1 2; do echo $((i * 10)) > nums/$i; done
echo done
"""


def test_primitive_file_directory_and_list_outputs(
    run_task: RunTask, examples_image: Image, storage: Storage
) -> None:
    task = shell_task(
        examples_image,
        "typed-outputs",
        TYPED_OUTPUTS,
        outputs={
            "count": int,
            "ratio": float,
            "greeting": str,
            "flag": bool,
            "report": containertask.File,
            "tree": containertask.Directory,
            "nums": list[int],
        },
    )
    run = run_task(task)
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    out = run.outputs()
    assert (out["count"], out["ratio"], out["greeting"], out["flag"]) == (
        42,
        2.5,
        "hello world",
        False,
    )
    assert out["nums"] == [0, 10, 20]
    assert storage.read_bytes(out["report"].uri) == b"report-body\n"
    tree = out["tree"].uri.rstrip("/") + "/"
    files = {uri.removeprefix(tree): storage.read_bytes(uri) for uri in storage.list(tree)}
    assert files == {"a.txt": b"one\n", "sub/b.txt": b"two\n"}


def test_nonzero_exit_with_declared_outputs_is_retried_then_fails_with_the_exit_code(
    run_task: RunTask, examples_image: Image, api_client: Any
) -> None:
    task = shell_task(
        examples_image, "exit-3", "echo 1 > /var/outputs/n; exit 3", {"n": int}, retries=ONE_RETRY
    )
    run = run_task(task)
    status = final_status(run)
    assert status.phase is Phase.FAILED, status
    assert [a.exit_code for a in status.attempts] == [3, 3]
    assert "code 3" in (status.message or ""), status
    assert len(task_pods(api_client, run)) == 2  # one pod per attempt


def test_oom_killed_main_is_retried_with_reason_oomkilled(
    run_task: RunTask, examples_image: Image
) -> None:
    """dd's 64 MiB buffer under a 24 MiB limit: the kernel kills it; the declared output it never
    wrote does not make that a user error."""
    task = shell_task(
        examples_image,
        "oom",
        "set -e; dd if=/dev/zero of=/dev/null bs=64M count=1; echo 1 > /var/outputs/n",
        {"n": int},
        resources=containertask.Resources(cpu="50m", memory=("24Mi", "24Mi")),
        retries=ONE_RETRY,
    )
    status = final_status(run_task(task))
    assert status.phase is Phase.FAILED, status
    assert [a.exit_code for a in status.attempts] == [137, 137], status
    for attempt in status.attempts:
        # containerd 1.6 (this node's) sometimes reports a container the kernel killed at once as
        # Error rather than OOMKilled (containerd#8180); the message then says what it most likely was.
        assert attempt.reason == "OOMKilled" or (
            attempt.reason == "Error" and "memory limit of 24Mi" in (attempt.message or "")
        ), attempt
    assert status.reason == status.attempts[-1].reason, status


def test_output_not_written_by_a_successful_program_fails_naming_it_without_retry(
    run_task: RunTask, examples_image: Image
) -> None:
    task = shell_task(
        examples_image,
        "no-output",
        "echo 1 > /var/outputs/written",
        {"written": int, "answer": int},
        retries=ONE_RETRY,
    )
    status = final_status(run_task(task))
    assert status.phase is Phase.FAILED, status
    assert len(status.attempts) == 1, status
    assert status.attempts[0].exit_code == 0
    assert "answer" in (status.message or "") and "written" not in (status.message or ""), status


def test_error_file_is_a_user_error_with_its_text(run_task: RunTask, examples_image: Image) -> None:
    task = shell_task(
        examples_image,
        "user-error",
        "echo 'input b must be positive' > /var/outputs/_ERROR; exit 1",
        {"n": int},
        retries=ONE_RETRY,
    )
    status = final_status(run_task(task))
    assert status.phase is Phase.FAILED, status
    assert status.reason == "UserError", status
    assert len(status.attempts) == 1, status
    assert "input b must be positive" in (status.message or ""), status


@pytest.mark.parametrize(
    "target", ["/proc/self/environ", "/etc/passwd"], ids=["proc-environ", "outside-output-dir"]
)
def test_symlinked_output_is_a_user_error_naming_it_and_nothing_is_uploaded(
    run_task: RunTask,
    examples_image: Image,
    storage: Storage,
    node_cluster: localcluster.Cluster,
    target: str,
) -> None:
    """The uploader never follows a link: its own environment holds the store's credentials."""
    task = shell_task(
        examples_image,
        "symlink-output",
        f"echo 7 > /var/outputs/n; ln -s {target} /var/outputs/report",
        {"n": int, "report": containertask.File},
        retries=ONE_RETRY,
    )
    run = run_task(task)
    status = final_status(run)
    assert status.phase is Phase.FAILED, status
    assert status.reason == "UserError", status
    assert len(status.attempts) == 1, status
    assert "report" in (status.message or ""), status
    uid = run.client.get(run.name, run.namespace)["metadata"]["uid"]
    location = deploy.output_location(node_cluster)
    prefix = str(naming.output_prefix(location, run.namespace, run.name, uid, 1))
    assert storage.list(prefix) == []


def test_task_pods_get_no_service_account_token(
    run_task: RunTask, examples_image: Image, api_client: Any
) -> None:
    token = "/var/run/secrets/kubernetes.io/serviceaccount"
    task = shell_task(examples_image, "no-token", f"test ! -e {token} && echo no token")
    run = run_task(task)
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    assert run.logs() == "no token\n"
    [pod] = task_pods(api_client, run)
    assert pod.spec.automount_service_account_token is False
    containers = [*pod.spec.init_containers, *pod.spec.containers]
    mounts = [m.mount_path for c in containers for m in c.volume_mounts or ()]
    assert not [m for m in mounts if m.startswith("/var/run/secrets/kubernetes.io")], mounts


@pytest.mark.timeout(900)
def test_one_gib_file_output_through_a_real_pod(
    run_task: RunTask, examples_image: Image, storage: Storage, tmp_path: Path
) -> None:
    """Random bytes, so a lost or repeated part changes the digest the program computed."""
    script = (
        f"head -c {GIB} /dev/urandom > /var/outputs/big && "
        "sha256sum /var/outputs/big | cut -d' ' -f1 > /var/outputs/digest"
    )
    task = shell_task(
        examples_image,
        "one-gib",
        script,
        {"big": containertask.File, "digest": str},
        resources=containertask.Resources(cpu="500m", memory="128Mi"),
    )
    run = run_task(task)
    status = final_status(run, timeout=800)
    assert status.phase is Phase.SUCCEEDED, status
    out = run.outputs()
    local = tmp_path / "big"
    assert storage.download_file(out["big"].uri, local) == GIB
    digest = hashlib.sha256()
    with local.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == out["digest"]
