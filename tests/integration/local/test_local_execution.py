"""Local execution's behaviour on a real engine: what the container sees, what comes back, and
how failures read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flyteidl2.core import literals_pb2

import containertask
import localengine
from containertask import ContainerTask, File

pytestmark = pytest.mark.integration

BUSYBOX = "docker.io/library/busybox:1.36"


def shell(name: str, script: str, **options: object) -> ContainerTask:
    return ContainerTask(name=name, image=BUSYBOX, command=["sh", "-c", script], **options)  # type: ignore[arg-type]


def test_the_container_sees_flytes_copilot_formats_and_documents(
    local_env: localengine.Engine,
) -> None:
    """Inputs as files in Go's text forms, inputs.json/pb beside them, and Go's forms read back."""
    task = shell(
        "formats",
        "cd /var/inputs && for f in x d t; do printf '%s|' \"$(cat $f)\"; done > /var/outputs/seen"
        " && cp inputs.json /var/outputs/doc && cp inputs.pb /var/outputs/pb"
        " && echo 1h30m > /var/outputs/wait && echo T > /var/outputs/ok"
        " && echo {{.inputs.x}} {{.input}} {{.inputPrefix}} > /var/outputs/args",
        inputs={"x": float, "d": timedelta, "t": datetime},
        outputs={
            "seen": str,
            "doc": File,
            "pb": File,
            "wait": timedelta,
            "ok": bool,
            "args": str,
        },
    )
    when = datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    seen, doc, pb, wait, ok, args = task(x=1e-05, d=timedelta(hours=1), t=when)
    assert seen == "0.00001|1h0m0s|2024-05-01T12:00:00.5Z|"
    assert json.loads(Path(doc.path).read_text())["x"] == 1e-05
    literals = literals_pb2.LiteralMap.FromString(Path(pb.path).read_bytes()).literals
    assert literals["x"].scalar.primitive.float_value == 1e-05
    assert (wait, ok) == (timedelta(minutes=90), True)
    assert args == "0.00001 /var/inputs/inputs.pb /var/inputs"


def test_a_non_zero_exit_raises_with_the_exit_code_and_the_last_log_lines(
    local_env: localengine.Engine,
) -> None:
    task = shell("fails", "for i in $(seq 1 30); do echo line $i; done; exit 3", local_logs=False)
    with pytest.raises(containertask.LocalRunError) as info:
        task()
    assert info.value.exit_code == 3
    assert "exited with code 3" in str(info.value)
    assert info.value.logs[-1] == "line 30" and len(info.value.logs) == 20


def test_a_missing_output_is_an_error_naming_it(local_env: localengine.Engine) -> None:
    task = shell("lazy", "echo 1 > /var/outputs/a", outputs={"a": int, "b": int})
    with pytest.raises(containertask.LocalRunError, match="output 'b': missing"):
        task()


def test_an_error_file_is_a_user_error_with_its_text(local_env: localengine.Engine) -> None:
    task = shell("refuses", "echo 'bad input' > /var/outputs/_ERROR", outputs={"a": int})
    with pytest.raises(containertask.LocalRunError, match="user error: bad input"):
        task()


def test_logs_are_streamed_when_local_logs(
    local_env: localengine.Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    shell("talks", "echo hello from the container")()
    assert "[talks] hello from the container" in capfd.readouterr().err
    shell("quiet", "echo hidden", local_logs=False)()
    assert "hidden" not in capfd.readouterr().err


def test_a_timeout_kills_the_container(local_env: localengine.Engine) -> None:
    task = shell("sleeper", "echo started; sleep 60", timeout=2, local_logs=False)
    with pytest.raises(containertask.LocalRunError, match="did not finish within 2s") as info:
        task()
    assert info.value.logs == ["started"]


def test_secrets_come_from_the_environment(
    local_env: localengine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = shell(
        "secretive",
        'echo "$API_KEY" > /var/outputs/key',
        outputs={"key": str},
        secrets="api-key",
    )
    with pytest.raises(containertask.LocalExecutionUnavailableError, match="API_KEY"):
        task()
    monkeypatch.setenv("API_KEY", "s3cr3t")
    assert task() == "s3cr3t"


def test_a_file_input_from_an_object_store_uri(
    local_env: localengine.Engine, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    task = ContainerTask(
        name="named",
        image=BUSYBOX,
        command=["sh", "-c", "ls /var/inputs/data > /var/outputs/names"],
        inputs={"data": File},
        outputs={"names": str},
        file_input_layout="NAMED_DIR",
    )
    assert task(data=File.from_existing_remote(data.as_uri())) == "data.csv"
