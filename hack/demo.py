"""Runs the README's ellipse task on the local cluster and prints what its container computed.

Expects ``hack/cluster env`` in the environment (``hack/demo`` does it all): the operator watches
namespace ``default``, the examples image is on the node, MinIO is reachable on 127.0.0.1.
"""

from __future__ import annotations

import containertask
from containertask.storage import Storage
from examples.ellipse import ellipse_area


def main() -> None:
    run = containertask.run(ellipse_area, a=3.0, b=4.0)
    print(f"demo: submitted ContainerTask {run.namespace}/{run.name} (image {ellipse_area.image})")
    run.wait(progress=True)
    outputs = run.outputs()
    print(f"demo: outputs {outputs}")
    metadata = outputs["metadata"]
    print(f"demo: {metadata.uri} holds {Storage().read_bytes(metadata.uri).decode()!r}")
    print(f"demo: log of the main container: {run.logs()!r}")


if __name__ == "__main__":
    main()
