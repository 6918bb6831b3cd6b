"""Bad SDK calls: each raises an error that names the parameter or input and the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

import containertask
from containertask import ContainerTask, File

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "name": "area",
    "image": "busybox",
    "command": ["sh", "-c", "echo {{.inputs.a}} > /var/outputs/area"],
    "inputs": {"a": float},
    "outputs": {"area": float},
}


def build(**changes: Any) -> Callable[[], Any]:
    return lambda: ContainerTask(**{**BASE, **changes})


def call(**inputs: Any) -> Callable[[], Any]:
    return lambda: ContainerTask(**BASE).to_manifest(**inputs)


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("unknown-type", build(inputs={"a": complex}), "inputs.a: unsupported type (got 'complex')"),
    ("bare-list", build(inputs={"a": list}), "inputs.a: a collection needs its item type"),
    ("int-dict-keys", build(outputs={"m": dict[int, str]}), "outputs.m: dict keys must be str"),
    ("bad-input-name", build(inputs={"2a": float}), "inputs.2a.name: not a valid name"),
    (
        "unknown-template",
        build(command=["echo", "{{.inputs.b}}"]),
        "command[1]: template names unknown input 'b'",
    ),
    (
        "malformed-template",
        build(command=["echo", "{{.inputs.a}"]),
        "command[1]: malformed template",
    ),
    (
        "bad-format",
        build(metadata_format="XML"),
        "metadata_format: not a supported value (got 'XML')",
    ),
    (
        "relative-input-dir",
        build(input_data_dir="inputs"),
        "input_data_dir: must be an absolute path below /",
    ),
    (
        "same-dirs",
        build(output_data_dir="/var/inputs"),
        "output_data_dir: must differ from inputPath",
    ),
    ("negative-retries", build(retries=-1), "retries: out of range (got -1); allowed: 0 to 10"),
    ("retries-as-text", build(retries="3"), "retries: not a retry count"),
    ("zero-timeout", build(timeout=timedelta(0)), "timeout: out of range (got 0)"),
    ("fractional-timeout", build(timeout=1.5), "timeout: must be whole seconds"),
    ("unknown-option", build(colour="red"), "colour: unknown option"),
    ("env-not-str", build(env_vars={"N": 1}), "env_vars['N']: names and values must be strings"),
    (
        "env-twice",
        build(env_vars={"DB_PASSWORD": "x"}, secrets=["db/password"]),
        "env_vars: environment variable set twice (got 'DB_PASSWORD')",
    ),
    ("bad-secret", build(secrets=["a/b/c"]), "secrets[0]: not a secret reference"),
    (
        "bad-secret-env",
        build(secrets=[containertask.Secret(key="k", as_env_var="lower")]),
        "secrets[0].as_env_var: not an environment variable name (got 'lower')",
    ),
    (
        "int-in-command",
        build(command=["sleep", 3]),
        "command[1]: must be a string, not int (got 3)",
    ),
    (
        "int-in-arguments",
        build(arguments=["-n", "{{.inputs.a}}", 2.5]),
        "arguments[2]: must be a string, not float (got 2.5)",
    ),
    (
        "reserved-name",
        build(outputs={"outputs.pb": int}),
        "outputs.outputs.pb.name: is the name of a file the copilot writes",
    ),
    (
        "unknown-gpu",
        build(resources=containertask.Resources(gpu="Z9:1")),
        "resources.gpu: not a GPU request (got 'Z9:1')",
    ),
    (
        "reusable",
        build(reusable=object()),
        "reusable: a ContainerTask runs each execution in a pod of its own",
    ),
    ("bad-resources", build(resources={"cpu": "1"}), "resources: not a resources value"),
    ("bad-cache", build(cache=3), "cache: not a cache setting (got 3)"),
    ("empty-image", build(image=""), "image: is required"),
    ("empty-name", build(name=""), "name: a task needs a non-empty name"),
    ("unnameable", build(name="___"), "name: has no letters or digits to name a resource"),
    ("missing-input", call(), "inputs.a: is required, no value given"),
    ("unknown-input", call(a=1.0, b=2), "inputs.b: not an input; allowed: a"),
    ("wrong-value-type", call(a="3"), "inputs.a: expected a value of type float (got '3')"),
    ("bool-for-float", call(a=True), "inputs.a: expected a value of type float (got True)"),
    ("infinite-float", call(a=float("inf")), "inputs.a: a float must be finite"),
    (
        "too-many-positional",
        lambda: ContainerTask(**BASE).to_manifest(1.0, 2.0),
        "inputs: takes 1 inputs (got 2)",
    ),
]

TYPED = ContainerTask(
    "typed",
    "busybox",
    "true",
    inputs={"f": File, "when": datetime, "xs": list[int], "m": dict[str, float]},
)
CASES += [
    (
        "local-file",
        lambda: TYPED.to_manifest(f="data.csv", when=datetime.now(), xs=[], m={}),
        "inputs.f: a local path cannot reach the cluster",
    ),
    (
        "local-file-in-list",
        lambda: ContainerTask("l", "busybox", "true", inputs={"fs": list[File]}).to_manifest(
            fs=["s3://b/1", "/tmp/2"]
        ),
        "inputs.fs: a local path cannot reach the cluster from a manifest",
    ),
    (
        "str-for-datetime",
        lambda: TYPED.to_manifest(f="s3://b/f", when="2024-01-01", xs=[], m={}),
        "inputs.when: expected a value of type datetime",
    ),
    (
        "wrong-list-item",
        lambda: TYPED.to_manifest(f="s3://b/f", when=datetime.now(), xs=[1, "2"], m={}),
        "inputs.xs[1]: expected a value of type int (got '2')",
    ),
    (
        "wrong-dict-value",
        lambda: TYPED.to_manifest(f="s3://b/f", when=datetime.now(), xs=[], m={"k": "v"}),
        "inputs.m['k']: expected a value of type float",
    ),
    (
        "override-image",
        lambda: ContainerTask(**BASE).override(image="other"),
        "image: cannot be overridden",
    ),
    (
        "bad-resource-name",
        lambda: ContainerTask(**BASE).manifest(ContainerTask(**BASE).spec(a=1.0), "Bad_Name"),
        "name: not a valid resource name (got 'Bad_Name')",
    ),
]


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_call_names_the_problem(make: Callable[[], Any], expected: str) -> None:
    with pytest.raises(containertask.SpecError) as info:
        make()
    assert expected in str(info.value)
    assert str(info.value).startswith("ContainerTask ") or expected.startswith("name:")
