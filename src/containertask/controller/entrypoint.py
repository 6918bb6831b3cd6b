"""``containertask operator [flags]``: parse the settings and run the kopf operator."""

from __future__ import annotations

import logging
import sys


def main(argv: list[str]) -> int:
    # kopf imports the Kubernetes client whenever it is installed (the SDK needs it), only to
    # recognise the client's model objects, which the operator never hands it: 18 MiB of the
    # operator's memory. So the operator's process goes without it; code that merely imports
    # the controller's modules (tests, tools) is left alone.
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]  # None: "not installed"
    import kopf

    from containertask.controller import handlers  # noqa: F401 - registers the kopf handlers
    from containertask.controller import settings as operator_settings

    ours = operator_settings.parse(argv)
    kopf.configure(
        verbose=ours.log_level == "DEBUG", log_format=kopf.LogFormat[ours.log_format.upper()]
    )
    logging.getLogger().setLevel(ours.log_level)
    logging.getLogger(__name__).info(
        "watching %s", ", ".join(ours.namespaces) if ours.namespaces else "all namespaces"
    )
    kopf.run(
        registry=kopf.get_default_registry(),
        clusterwide=ours.clusterwide,
        namespaces=ours.namespaces,
        standalone=True,
        liveness_endpoint=ours.liveness_endpoint,
        memo=kopf.Memo(settings=ours),
    )
    return 0
