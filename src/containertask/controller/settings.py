"""Operator settings: command-line flags, with defaults from ``CONTAINERTASK_*`` environment variables.

``containertask operator --help`` lists them; ``kopf run -m containertask.controller.handlers``
reads the same settings from the environment only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ENV_PREFIX: Final = "CONTAINERTASK_"
DEFAULT_COPILOT_IMAGE: Final = "ghcr.io/containertask/containertask:0.1.0"
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS: Final = ("full", "plain", "json")


@dataclass(frozen=True)
class HelperResources:
    """Resources of the downloader and uploader: small, and bounded so a node can be planned."""

    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "10m", "memory": "32Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "256Mi"})

    def to_dict(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "limits": dict(self.limits)}


@dataclass(frozen=True)
class OperatorSettings:
    copilot_image: str = DEFAULT_COPILOT_IMAGE
    copilot_secret: str | None = None
    output_location: str | None = None
    namespaces: tuple[str, ...] = ()
    pending_timeout_seconds: int = 300
    upload_timeout_seconds: int = 60
    cancel_grace_seconds: int = 5
    disruption_limit: int = 5
    inline_limit_bytes: int = 1024
    qps: float = 100.0
    burst: int = 200
    listen_address: str = "127.0.0.1"
    metrics_port: int = 8080
    liveness_port: int = 8081
    log_level: str = "INFO"
    log_format: str = "full"
    watch_server_timeout: int = 300
    request_timeout: float = 30.0
    resync_seconds: float = 60.0
    # Reconciles are coroutines; API calls in flight are bounded separately (kube.MAX_IN_FLIGHT),
    # by priority. Enough workers that a new task never waits for a worker held by an older
    # task's status write queued behind the rate limit.
    workers: int = 256
    helper_resources: HelperResources = field(default_factory=HelperResources)

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @property
    def liveness_endpoint(self) -> str | None:
        if not self.liveness_port:
            return None
        return f"http://{self.listen_address}:{self.liveness_port}/healthz"


def _positive(kind: type[int] | type[float]) -> Any:
    def check(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        return value

    return check


def parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """Flags whose defaults come from ``CONTAINERTASK_<FLAG>`` in ``environ``."""
    env = os.environ if environ is None else environ
    d = OperatorSettings()

    def default(name: str, fallback: Any) -> Any:
        return env.get(ENV_PREFIX + name, fallback)

    p = argparse.ArgumentParser(
        prog="containertask operator", description="Run the ContainerTask operator."
    )
    p.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        help="a namespace to watch (repeat for several; env CONTAINERTASK_NAMESPACES, comma-separated)",
    )
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    p.add_argument("--copilot-image", default=default("COPILOT_IMAGE", d.copilot_image))
    p.add_argument(
        "--copilot-secret",
        default=default("COPILOT_SECRET", None),
        help="a Secret in the task's namespace with object-store credentials for the copilot",
    )
    p.add_argument(
        "--output-location",
        default=default("OUTPUT_LOCATION", None),
        help="where outputs go when a task sets no spec.outputLocation (e.g. s3://bucket/runs)",
    )
    p.add_argument(
        "--pending-timeout",
        type=_positive(int),
        default=default("PENDING_TIMEOUT", d.pending_timeout_seconds),
        help="seconds a pod may stay Pending before its attempt fails",
    )
    p.add_argument(
        "--upload-timeout",
        type=_positive(int),
        default=default("UPLOAD_TIMEOUT", d.upload_timeout_seconds),
        help="seconds the uploader gets after the main container exits (spec.uploadTimeoutSeconds wins)",
    )
    p.add_argument(
        "--disruption-limit",
        type=_positive(int),
        default=default("DISRUPTION_LIMIT", d.disruption_limit),
        help="attempts of one task the cluster may disrupt (evict, preempt, delete, lose with "
        "a node) before the task fails; these do not count against spec.retries.limit",
    )
    p.add_argument(
        "--qps",
        type=_positive(float),
        default=default("QPS", d.qps),
        help="sustained rate of the operator's own API calls",
    )
    p.add_argument(
        "--burst",
        type=_positive(int),
        default=default("BURST", d.burst),
        help="API calls allowed at once above --qps",
    )
    p.add_argument(
        "--listen-address",
        default=default("LISTEN_ADDRESS", d.listen_address),
        help="address of the metrics and liveness endpoints (0.0.0.0 in a pod)",
    )
    p.add_argument(
        "--metrics-port",
        type=_positive(int),
        default=default("METRICS_PORT", d.metrics_port),
        help="Prometheus metrics port (0: off)",
    )
    p.add_argument(
        "--liveness-port",
        type=_positive(int),
        default=default("LIVENESS_PORT", d.liveness_port),
        help="kopf's liveness endpoint port, /healthz (0: off)",
    )
    p.add_argument(
        "--log-level", choices=LOG_LEVELS, default=default("LOG_LEVEL", d.log_level).upper()
    )
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default("LOG_FORMAT", d.log_format),
        help="json: one JSON object per line",
    )
    p.add_argument(
        "--watch-timeout",
        type=_positive(int),
        default=default("WATCH_TIMEOUT", d.watch_server_timeout),
        help="server-side timeout of one watch request, seconds",
    )
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=default("WORKERS", d.workers),
        help="tasks reconciled at once",
    )
    p.add_argument(
        "--resync",
        type=_positive(float),
        default=default("RESYNC", d.resync_seconds),
        help="seconds between safety-net reconciles of an unfinished task",
    )
    return p


def parse(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> OperatorSettings:
    """Settings from flags, then environment, then defaults; a bad value exits with usage."""
    env = os.environ if environ is None else environ
    p = parser(env)
    args = p.parse_args(list(argv))
    if args.all_namespaces and args.namespaces:
        p.error("--all-namespaces and --namespace exclude each other")
    if args.log_level not in LOG_LEVELS:
        p.error(f"--log-level: {args.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    namespaces = args.namespaces
    if namespaces is None and not args.all_namespaces:
        namespaces = [n.strip() for n in env.get(ENV_PREFIX + "NAMESPACES", "").split(",")]
    return OperatorSettings(
        copilot_image=args.copilot_image,
        copilot_secret=args.copilot_secret or None,
        output_location=args.output_location or None,
        namespaces=tuple(dict.fromkeys(n for n in namespaces or () if n)),
        pending_timeout_seconds=int(args.pending_timeout),
        upload_timeout_seconds=int(args.upload_timeout),
        disruption_limit=int(args.disruption_limit),
        qps=float(args.qps),
        burst=int(args.burst),
        listen_address=args.listen_address,
        metrics_port=int(args.metrics_port),
        liveness_port=int(args.liveness_port),
        log_level=args.log_level,
        log_format=args.log_format,
        watch_server_timeout=int(args.watch_timeout),
        resync_seconds=float(args.resync),
        workers=max(int(args.workers), 1),
    )


def from_env(environ: Mapping[str, str] | None = None) -> OperatorSettings:
    """Settings from the environment alone (for ``kopf run``)."""
    return parse([], environ)
