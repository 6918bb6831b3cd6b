"""Cluster-free checks of hack/localcluster: builds, processes, ports, PKI (no binaries needed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from localcluster import build, cluster, pki, probes, processes
from localcluster.cluster import Cluster
from localcluster.components import Component, Context
from localcluster.config import TOOLS_BY_NAME, Settings

HACK = Path(__file__).resolve().parents[3] / "hack"

pytestmark = pytest.mark.unit


def test_busy_preferred_port_is_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = processes.free_port(taken, set())
    assert port != taken
    assert processes.free_port(port, set()) == port  # free again: preferred wins


def test_warm_build_runs_no_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "bin")
    tool = TOOLS_BY_NAME["s5cmd"]
    directory = settings.tool_dir(tool)
    directory.mkdir(parents=True)
    (directory / "s5cmd").write_text("#!/bin/sh\n")
    (directory / "s5cmd").chmod(0o755)
    assert not build.is_built(settings, tool)
    (directory / build.STAMP).write_text(json.dumps(build._expected_stamp(tool)))
    monkeypatch.setenv("PATH", "")  # any attempt to run go would now fail
    assert build.ensure_built(settings, ["s5cmd"]) == {}


def test_missing_go_names_the_tool_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "bin")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(build.BuildError) as failed:
        build.ensure_built(settings, ["s5cmd"])
    log = settings.bin_root / "logs" / f"s5cmd-{TOOLS_BY_NAME['s5cmd'].version}.log"
    assert "s5cmd" in str(failed.value)
    assert str(log) in str(failed.value)
    assert log.exists()
    assert not settings.tool_dir(TOOLS_BY_NAME["s5cmd"]).exists()


def test_stop_signals_only_a_process_that_is_still_ours(tmp_path: Path) -> None:
    """A process started by an earlier command (not a child of this one) is identified by its
    binary and run directory."""
    shell = Path(shutil.which("sh") or "/bin/sh").resolve()
    pid_file = tmp_path / "sleeper.pid"
    starter = (
        "import sys; from pathlib import Path; from localcluster import processes; "
        "processes.start('sleeper', sys.argv[1:], "
        f"Path({str(tmp_path / 's.log')!r}), Path({str(pid_file)!r}))"
    )
    subprocess.run(
        [sys.executable, "-c", starter, str(shell), "-c", "sleep 60; :", str(tmp_path)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(HACK)},
        capture_output=True,
    )
    pid = int(pid_file.read_text().split()[0])
    try:
        assert processes.read_pid(pid_file) == (pid, shell)
        assert not processes.stop("sleeper", pid, shell, tmp_path / "other-run-dir")
        assert processes.is_ours(pid, shell, tmp_path)
        assert processes.stop("sleeper", pid, shell, tmp_path, timeout=5)
        assert not processes.is_ours(pid, shell, tmp_path)
        assert processes.running(pid_file, tmp_path) is None
    finally:
        if processes.is_ours(pid, shell, tmp_path):
            os.killpg(pid, 9)


def test_a_child_just_started_is_ours_until_it_exits(tmp_path: Path) -> None:
    sleeper = Path(shutil.which("sleep") or "/bin/sleep").resolve()
    for _ in range(20):
        pid = processes.start("s", [str(sleeper), "0.2"], tmp_path / "s.log", tmp_path / "s.pid")
        assert processes.is_ours(pid, sleeper, tmp_path)  # no run dir on its command line
        deadline = time.monotonic() + 5
        while processes.is_ours(pid, sleeper, tmp_path):
            assert time.monotonic() < deadline, "an exited child still counts as running"
            time.sleep(0.02)


def test_wait_for_tells_exit_from_timeout() -> None:
    never = lambda: False  # noqa: E731
    assert probes.wait_for(never, timeout=0.3, alive=lambda: False) == "exited"
    assert probes.wait_for(never, timeout=0.3, alive=lambda: True) == "timeout"
    assert probes.wait_for(lambda: True, timeout=0.3, alive=lambda: True) is None


def test_pki_identities_and_idempotence(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki")
    admin = x509.load_pem_x509_certificate(made.cert("admin").read_bytes())
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    server = x509.load_pem_x509_certificate(made.cert("apiserver").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    before = {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()}
    pki.ensure_pki(tmp_path / "pki")
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()} == before
    ca = x509.load_pem_x509_certificate(made.ca_cert.read_bytes())
    for name in (*pki.CLIENTS, *pki.SERVERS):
        x509.load_pem_x509_certificate(made.cert(name).read_bytes()).verify_directly_issued_by(ca)


def test_env_has_the_documented_variables(tmp_path: Path) -> None:
    cluster = Cluster(
        run_dir=tmp_path,
        kubeconfig=tmp_path / "kubeconfig",
        api_server="https://127.0.0.1:1",
        bin_dir=tmp_path / "bin",
        s3_endpoint="http://127.0.0.1:2",
        s3_access_key="a",
        s3_secret_key="s",
    )
    env = cluster.env()
    assert set(env) == {
        "KUBECONFIG",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "CONTAINERTASK_TEST_BUCKET",
        "PATH",
    }
    assert env["AWS_REGION"] == "us-east-1"
    assert env["CONTAINERTASK_TEST_BUCKET"] == "containertask-test"
    assert env["PATH"].startswith(f"{tmp_path / 'bin'}{os.pathsep}")


def _processes_naming(marker: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(marker) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _fake_components(
    monkeypatch: pytest.MonkeyPatch, bad_probe: Callable[[], bool]
) -> list[Component]:
    """Two sleeping shells: ``good`` is ready at once, ``bad`` (after it) uses ``bad_probe``."""
    shell = Path(shutil.which("sh") or "/bin/sh").resolve()
    monkeypatch.setattr(Settings, "binary", lambda self, name: shell)

    def sleeper(ctx: Context) -> list[str]:
        return ["-c", "sleep 60; :", str(ctx.layout.root)]

    good = Component("good", "sh", {"good": 0}, sleeper, lambda ctx, port: lambda: True)
    bad = Component(
        "bad", "sh", {"bad": 0}, sleeper, lambda ctx, port: bad_probe, ("good",), timeout=1
    )
    monkeypatch.setattr(cluster, "COMPONENTS", (good, bad))
    monkeypatch.setattr(cluster, "COMPONENTS_BY_NAME", {"good": good, "bad": bad})
    monkeypatch.setattr(cluster, "_write_configs", lambda ctx: None)
    return [good, bad]


def test_readiness_timeout_names_the_component_and_stops_what_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    components = _fake_components(monkeypatch, lambda: False)
    ctx = cluster._context(Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "bin"))
    with pytest.raises(cluster.ClusterError) as failed:
        cluster._Starter(ctx, components).run()
    assert str(failed.value) == f"bad not ready after 1s; see {ctx.layout.log('bad')}"
    assert _processes_naming(ctx.layout.root) == []
    assert not list((ctx.layout.root / "pids").iterdir())


def test_unexpected_error_while_starting_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_probe() -> bool:
        raise RuntimeError("probe bug")

    components = _fake_components(monkeypatch, broken_probe)
    ctx = cluster._context(Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "bin"))
    with pytest.raises(RuntimeError, match="probe bug"):
        cluster._Starter(ctx, components).run()
    assert _processes_naming(ctx.layout.root) == []
