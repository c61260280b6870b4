"""The gateway's Prometheus metrics, on a registry created per app (never the global one).

With several worker processes (`gristops serve` gives them a shared directory),
the values live in prometheus_client's multiprocess files there and the
registry /metrics exposes reads the files of every worker: the same totals
whichever worker answers the scrape. Counters and histograms of a worker that
exited stay counted; its live gauges are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
    values,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from gristops.errors import ConfigError
from gristops.observe.processes import GatewayProcesses
from gristops.runtime import pids
from gristops.store.metrics import LATENCY_BUCKETS, StoreMetrics


@dataclass(frozen=True)
class GatewayMetrics:
    registry: CollectorRegistry  # what /metrics exposes: every worker's totals
    values: CollectorRegistry  # where this process's metric objects are registered
    requests: Counter
    request_duration: Histogram
    store: StoreMetrics
    auth_outcomes: Counter
    shared_dir: Path | None


class WorkerFiles(Collector):
    """prometheus_client's MultiProcessCollector, after dropping the live gauges of workers
    that died without saying so (killed, crashed): a scrape never shows a dead worker."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files = multiprocess.MultiProcessCollector(None, str(path))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for pid in {f.stem.rsplit("_", 1)[-1] for f in self.path.glob("gauge_live*_*.db")}:
            if pid.isdigit() and not pids.alive(int(pid)):
                multiprocess.mark_process_dead(int(pid), str(self.path))  # type: ignore[no-untyped-call]
        metrics: Iterable[Metric] = self._files.collect()  # type: ignore[no-untyped-call]
        return metrics


def create_metrics(shared_dir: Path | None = None) -> GatewayMetrics:
    """Fresh metrics on their own registry. Labels are bounded: route templates, not paths.

    `shared_dir`: the multiprocess directory of this gateway's workers; prometheus_client
    must have been imported with PROMETHEUS_MULTIPROC_DIR naming it."""
    # The *_created series double the exposition and nothing here queries them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    own = CollectorRegistry(auto_describe=True)
    exposed = own
    if shared_dir is not None:
        if not getattr(values.ValueClass, "_multiprocess", False):
            raise ConfigError(
                f"metrics of several workers need PROMETHEUS_MULTIPROC_DIR={shared_dir} "
                "set before prometheus_client is imported",
                hint="start the gateway with `gristops serve`",
            )
        exposed = CollectorRegistry(auto_describe=False)
        exposed.register(WorkerFiles(shared_dir))
    GatewayProcesses(shared=shared_dir is not None, registry=exposed)
    return GatewayMetrics(
        registry=exposed,
        values=own,
        requests=Counter(
            "gristops_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        ),
        request_duration=Histogram(
            "gristops_http_request_duration_seconds",
            "HTTP request duration by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        ),
        store=StoreMetrics(own),
        auth_outcomes=Counter(
            "gristops_auth_events",
            "Authentication events by kind and outcome.",
            ["event", "outcome"],
            registry=own,
        ),
        shared_dir=shared_dir,
    )


def worker_exited(metrics: GatewayMetrics, pid: int) -> None:
    """Drop the live gauges of a worker that is stopping (its counters stay counted)."""
    if metrics.shared_dir is not None:
        multiprocess.mark_process_dead(pid, str(metrics.shared_dir))  # type: ignore[no-untyped-call]
