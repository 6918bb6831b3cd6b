"""Cluster-free checks of the real node's parts: image archives, image tags, the pod network's
configuration, the kwok placement helper, the one-node-per-machine claim."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, cast

import pytest

from localcluster import archive, images, kwok, node, nodenet
from localcluster.config import Settings
from localcluster.layout import Layout

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, name: str, content: bytes, executable: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    path.chmod(0o755 if executable else 0o644)
    return path


def test_archive_is_a_docker_archive_with_one_layer_and_is_reproducible(tmp_path: Path) -> None:
    tool = _write(tmp_path, "tool", b"#!/bin/sh\necho hi\n", executable=True)
    layer = archive.Layer({"bin/tool": tool}, {"bin/sh": "tool"}, workdir="/work")
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    archive.write(first, "localhost/t:1", ["/bin/tool"], layer)
    archive.write(second, "localhost/t:1", ["/bin/tool"], layer)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        [manifest] = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest["RepoTags"] == ["localhost/t:1"]
        config = json.load(tar.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        assert config["config"]["Entrypoint"] == ["/bin/tool"]
        assert config["config"]["WorkingDir"] == "/work"
        [layer_name] = manifest["Layers"]
        with tarfile.open(fileobj=tar.extractfile(layer_name)) as inner:
            members = {m.name: m for m in inner.getmembers()}
    assert members["bin/tool"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "tool"
    assert members["tmp"].mode == 0o1777
    assert {"work", "etc/passwd", "etc/group"} <= set(members)


def test_image_tags_follow_the_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "cache" / "bin")
    examples = tmp_path / "examples"
    examples.mkdir()
    script = _write(examples, "a.sh", b"echo 1\n", executable=True)
    monkeypatch.setattr(images, "EXAMPLES", examples)
    before = images.examples_ref(settings)
    assert before == images.examples_ref(settings)
    script.write_bytes(b"echo 2\n")
    after = images.examples_ref(settings)
    assert after.ref != before.ref
    assert after.ref.startswith("localhost/containertask-examples:")
    assert after.archive.parent == tmp_path / "cache" / "images"


def test_each_build_keeps_only_the_newest_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(run_dir=tmp_path / "run", bin_root=tmp_path / "cache" / "bin")
    examples = tmp_path / "examples"
    examples.mkdir()
    script = _write(examples, "a.sh", b"echo 0\n", executable=True)
    monkeypatch.setattr(images, "EXAMPLES", examples)
    built = []
    for n in range(images.KEEP_BUILDS + 2):
        script.write_bytes(f"echo {n}\n".encode())
        built.append(images.examples(settings).archive)
    kept = sorted((tmp_path / "cache" / "images").glob("examples-*.tar"))
    assert kept == sorted(built[-images.KEEP_BUILDS :])


def test_pods_get_no_default_route_and_no_masquerade(tmp_path: Path) -> None:
    [bridge, _] = cast(list[dict[str, Any]], nodenet.cni_config(tmp_path)["plugins"])
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["routes"] == [{"dst": nodenet.SERVICE_CIDR, "gw": nodenet.NODE_IP}]
    assert bridge["ipam"]["ranges"] == [
        [{"subnet": nodenet.POD_SUBNET, "gateway": nodenet.NODE_IP}]
    ]


def test_on_kwok_adds_selector_and_toleration_to_what_is_there() -> None:
    spec = {"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "a", "operator": "Exists"}]}
    placed = kwok.on_kwok(spec)
    assert placed["nodeSelector"] == {"disk": "ssd", kwok.NODE_LABEL: "true"}
    assert placed["tolerations"][0] == {"key": "a", "operator": "Exists"}
    assert placed["tolerations"][1]["key"] == kwok.TAINT["key"]
    assert spec["nodeSelector"] == {"disk": "ssd"}  # unchanged


def test_claim_names_the_run_dir_that_runs_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node, "CLAIM_DIR", tmp_path)
    monkeypatch.setattr(node, "CLAIM", tmp_path / "real-node.json")
    mine, other = Layout(tmp_path / "mine"), Layout(tmp_path / "other")
    node.claim(other)
    # The other run directory's node is not running: its claim is stale, and taken over.
    node.claim(mine)
    assert json.loads((tmp_path / "real-node.json").read_text()) == {"run_dir": str(mine.root)}
    monkeypatch.setattr(node, "runs_here", lambda layout: layout == mine)
    with pytest.raises(node.NodeError, match=f"runs from {mine.root}.*--kwok-only"):
        node.claim(other)
    node.release(other)  # not the owner: nothing happens
    assert (tmp_path / "real-node.json").exists()
    node.release(mine)
    assert not (tmp_path / "real-node.json").exists()
