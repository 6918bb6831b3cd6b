"""``containertask operator [flags]``: parse the settings and run the kopf operator."""

from __future__ import annotations

import logging

import kopf

from containertask.controller import handlers  # noqa: F401 - registers the kopf handlers
from containertask.controller import settings as operator_settings

_FORMATS = {"full": kopf.LogFormat.FULL, "plain": kopf.LogFormat.PLAIN, "json": kopf.LogFormat.JSON}


def main(argv: list[str]) -> int:
    ours = operator_settings.parse(argv)
    kopf.configure(verbose=ours.log_level == "DEBUG", log_format=_FORMATS[ours.log_format])
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
