"""``hack/engine up|down|status|env|images [docker|podman]``."""

from __future__ import annotations

import argparse
import sys

from localcluster.log import configure
from localengine.engine import KINDS, Engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/engine", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env", "images"))
    parser.add_argument("kind", nargs="?", choices=KINDS, default="docker")
    args = parser.parse_args(argv)
    configure()
    engine = Engine.of(args.kind)
    if args.command == "up":
        engine.up()
        print(f"export DOCKER_HOST={engine.host}")
    elif args.command == "down":
        print(f"{args.kind}: {'stopped' if engine.down() else 'was not running'}")
    elif args.command == "status":
        print(f"{args.kind}: {'running at ' + engine.host if engine.running() else 'stopped'}")
        return 0 if engine.running() else 3
    elif args.command == "env":
        print(f"export DOCKER_HOST={engine.host}")
    else:
        for tag in engine.load_images():
            print(tag)
    return 0


sys.exit(main())
