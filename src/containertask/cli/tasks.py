"""The SDK's subcommands of ``containertask``: render, run and inspect tasks; print the CRD.

Exit codes: 0 success, 1 the task failed (or a cluster call did), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from containertask.api import values
from containertask.api.errors import SpecError
from containertask.api.status import TaskStatus
from containertask.cli import ENTRY_POINTS
from containertask.sdk import errors, loader, manifest
from containertask.sdk.client import Client
from containertask.sdk.run import Run, RunContext, progress_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="containertask", description="Typed container tasks on Kubernetes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def task_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("task", help="module:task or path/to/file.py:task")
        sub.add_argument(
            "-i",
            "--input",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an input value: text for primitives, a URI for files, JSON for lists and dicts",
        )
        sub.add_argument("--name", help="resource name (default: <task>-<hash of spec>)")
        sub.add_argument(
            "-n", "--namespace", help="namespace (default: the task's or kubeconfig's)"
        )
        return sub

    task_command("render", "Print the task's ContainerTask manifest as YAML (for kubectl apply).")
    run = task_command("run", "Submit the task, follow it, and print its outputs as JSON.")
    run.add_argument("--timeout", type=float, help="seconds to wait before giving up")
    run.add_argument("--no-wait", action="store_true", help="print the run's name and return")
    _cluster_options(run)

    for name, help_text in (
        ("status", "Print a run's phase, attempts and message."),
        ("logs", "Print the logs of a run's latest attempt."),
        ("outputs", "Print a finished run's outputs as JSON."),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("name", help="the ContainerTask resource")
        sub.add_argument("-n", "--namespace")
        _cluster_options(sub)
        if name == "logs":
            sub.add_argument("-c", "--container", default="main")
        if name == "status":
            sub.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text")
    commands.add_parser("crd", help="Print the ContainerTask CustomResourceDefinition as YAML.")
    for name in ENTRY_POINTS:
        commands.add_parser(name, help=f"Run the {name} (its own options follow).", add_help=False)
    return parser


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context")


def _client(args: argparse.Namespace) -> Client:
    return Client.from_config(args.kubeconfig, args.context)


def _render(args: argparse.Namespace) -> int:
    task = loader.load_task(args.task)
    spec = task.spec(**loader.parse_inputs(task, args.input))
    print(manifest.to_yaml(task.manifest(spec, args.name, args.namespace)), end="")
    return 0


def _print_outputs(run: Run) -> None:
    types = run.spec().output_types
    outputs = {n: values.to_json(types[n], v) for n, v in run.outputs().items()}
    print(json.dumps(outputs, indent=2))


def _run(args: argparse.Namespace) -> int:
    task = loader.load_task(args.task)
    inputs = loader.parse_inputs(task, args.input)
    run = RunContext(args.name, args.namespace, _client(args)).submit(task, **inputs)
    print(f"containertask/{run.name} created in namespace {run.namespace}", file=sys.stderr)
    if args.no_wait:
        print(run.name)
        return 0
    run.wait(args.timeout, progress=True)
    _print_outputs(run)
    return 0


def _status(args: argparse.Namespace) -> int:
    run = Run.attach(args.name, args.namespace, _client(args))
    obj = run.client.get(run.name, run.namespace)
    data = obj.get("status") or {}
    if args.output == "json":
        print(json.dumps(data, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(data, sort_keys=False), end="")
    else:
        status = TaskStatus.from_dict(data)
        print(progress_line(run.name, status))
        for attempt in status.attempts:
            print(f"  attempt {attempt.number}: pod {attempt.pod}, {_attempt_state(attempt)}")
    return 0


def _attempt_state(attempt: Any) -> str:
    parts = [f"exit code {attempt.exit_code}" if attempt.exit_code is not None else "running"]
    parts += [p for p in (attempt.reason, attempt.message) if p]
    return ", ".join(parts)


def _logs(args: argparse.Namespace) -> int:
    run = Run.attach(args.name, args.namespace, _client(args))
    print(run.logs(args.container), end="")
    return 0


def _outputs(args: argparse.Namespace) -> int:
    _print_outputs(Run.attach(args.name, args.namespace, _client(args)))
    return 0


def _crd(args: argparse.Namespace) -> int:
    from containertask.api import crd

    print(manifest.to_yaml(crd.build_crd()), end="")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "render": _render,
    "run": _run,
    "status": _status,
    "logs": _logs,
    "outputs": _outputs,
    "crd": _crd,
}


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (errors.RunFailedError, errors.RunTimeoutError, errors.RunNotFinishedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ApiException as err:
        print(
            f"error: Kubernetes API: {err.status} {err.reason}: {_api_message(err)}",
            file=sys.stderr,
        )
        return 1


def _api_message(err: ApiException) -> str:
    try:
        return str(json.loads(err.body or "{}").get("message", ""))
    except ValueError:
        return str(err.body)
