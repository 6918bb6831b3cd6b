"""``hack/cluster build|up|down|status|env``."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from localcluster import deploy, images, node, nodenet
from localcluster.build import BuildError, ensure_built, stamp_of
from localcluster.cluster import ClusterError, down, info, status, up
from localcluster.config import ALL_TOOLS, TOOLS_BY_NAME, Settings
from localcluster.layout import Layout
from localcluster.log import configure


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "nodes", None) is not None:
        overrides["nodes"] = args.nodes
    if getattr(args, "kwok_only", False):
        overrides["real_node"] = False
    return Settings(**overrides)  # type: ignore[arg-type]


def _build(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.tools) - set(TOOLS_BY_NAME))
    if unknown:
        raise ValueError(
            f"build {' '.join(unknown)}: unknown tool; known: {', '.join(TOOLS_BY_NAME)}"
        )
    settings = _settings(args)
    ensure_built(settings, args.tools or None)
    print(f"{'TOOL':12} {'VERSION':40} {'BUILT IN':>8}  DIRECTORY")
    for tool in ALL_TOOLS:
        if tool.name in args.tools or (not args.tools and tool in settings.tools):
            stamp = stamp_of(settings, tool)
            print(
                f"{tool.name:12} {tool.version:40} {stamp.get('build_seconds', '-'):>7}s  "
                f"{settings.tool_dir(tool)}"
            )
    return 0


def _up(args: argparse.Namespace) -> int:
    result = up(_settings(args))
    started = ", ".join(result.started) or "nothing (all healthy)"
    print(f"cluster up in {result.seconds}s; started: {started}", file=sys.stderr)
    print('use it with: eval "$(hack/cluster env)"', file=sys.stderr)
    return 0


def _images(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if node.runs_here(Layout(settings.run_dir)):
        built = list(deploy.images_on_node(settings).values())
        where = f"loaded into {nodenet.NODE_NAME}"
    else:
        built = images.build_all(settings)
        where = "not loaded: no real node runs from this run directory"
    for image in built:
        print(f"{image.name:14} {image.ref}")
    print(f"images {where}", file=sys.stderr)
    return 0


def _operator(args: argparse.Namespace) -> int:
    settings = _settings(args)
    image = deploy.images_on_node(settings)["containertask"]
    deploy.install(info(settings), image)
    print(f"operator {image.ref} running in namespace {deploy.NAMESPACE}", file=sys.stderr)
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = down(_settings(args), purge=args.purge)
    print(f"stopped: {', '.join(stopped) or 'nothing'}", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = status(_settings(args))
    print(f"{'COMPONENT':26}{'PID':>8}{'PORT':>7}  HEALTH")
    for row in rows:
        print(f"{row.name:26}{row.pid or '-':>8}{row.port or '-':>7}  {row.health}")
    return 0 if all(r.health == "ok" for r in rows) else 3


def _env(args: argparse.Namespace) -> int:
    cluster = info(_settings(args))
    for key, value in cluster.env().items():
        if key == "PATH":
            print(f'export PATH={shlex.quote(str(cluster.bin_dir))}:"$PATH"')
        else:
            print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/cluster", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build missing binaries (cached by version)")
    build.add_argument("tools", nargs="*", metavar="TOOL", help=", ".join(TOOLS_BY_NAME))
    build.set_defaults(func=_build)
    start = sub.add_parser("up", help="start the cluster (idempotent)")
    start.add_argument("--nodes", type=int, help="kwok nodes (env CONTAINERTASK_KWOK_NODES)")
    start.add_argument(
        "--kwok-only",
        action="store_true",
        help="no real node (env CONTAINERTASK_REAL_NODE=0); kwok nodes only",
    )
    start.set_defaults(func=_up)
    stop = sub.add_parser("down", help="stop the processes this run directory started")
    stop.add_argument("--purge", action="store_true", help="also delete the run directory")
    stop.set_defaults(func=_down)
    sub.add_parser(
        "images", help="build the node's images (cached by content) and load them into it"
    ).set_defaults(func=_images)
    sub.add_parser(
        "operator",
        help="helm install the operator with the local image (builds and loads images first)",
    ).set_defaults(func=_operator)
    sub.add_parser("status", help="component, pid, port, health").set_defaults(func=_status)
    sub.add_parser("env", help="print shell export lines").set_defaults(func=_env)
    args = parser.parse_args(argv)
    configure(args.verbose)
    # SIGTERM unwinds like Ctrl-C, so a half-finished `up` stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        code: int = args.func(args)
    except (BuildError, ClusterError, ValueError, *node.ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code
