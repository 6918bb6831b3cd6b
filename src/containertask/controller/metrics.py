"""Prometheus metrics of the operator, in their own registry (served on ``--metrics-port``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from containertask.api import Phase


class _PhaseCollector(Collector):
    """``containertask_tasks{phase}``, counted from the operator's view of the tasks at scrape time."""

    def __init__(self, phases: Callable[[], Mapping[str, int]]) -> None:
        self._phases = phases

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "containertask_tasks", "ContainerTasks by phase", labels=["phase"]
        )
        counts = self._phases()
        for phase in Phase:
            family.add_metric([str(phase)], counts.get(str(phase), 0))
        yield family


class Metrics:
    def __init__(self, phases: Callable[[], Mapping[str, int]]) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.registry.register(_PhaseCollector(phases))
        self.pods_created = prometheus_client.Counter(
            "containertask_pods_created",
            "Pods created, one per attempt",
            registry=self.registry,
        )
        self.tasks_finished = prometheus_client.Counter(
            "containertask_tasks_finished",
            "Tasks that reached a final phase, by phase and reason",
            ["phase", "reason"],
            registry=self.registry,
        )
        self.reconcile_seconds = prometheus_client.Histogram(
            "containertask_reconcile_seconds",
            "Time to reconcile one task (decide and apply)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.reconcile_errors = prometheus_client.Counter(
            "containertask_reconcile_errors",
            "Reconciles that failed and were retried",
            registry=self.registry,
        )

    def serve(self, address: str, port: int) -> Callable[[], None]:
        """Serve /metrics on ``address:port`` in a daemon thread; returns how to stop it."""
        server, thread = prometheus_client.start_http_server(port, address, self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop
