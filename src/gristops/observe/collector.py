"""The ops collector: backup, replication, TLS, deploy and job gauges, read at scrape time.

Each ops area exposes `metric_families(config, state) -> list[Metric]` in its
own package; the caller (the gateway's `create_app`) registers the collector
with the areas it wants, by name, the way prometheus_client collectors are
registered. One area failing costs only its own metrics: the failure is logged
and counted in `gristops_collector_errors_total{module=<area>}`, a counter on the
caller's value registry so that, with several gateway workers, it is summed
over all of them (the gauges are read from the state DB, the same for each).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gristops.config import Config
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.observe")


class MetricSource(Protocol):
    def __call__(self, config: Config, state: StateDB) -> list[Metric]: ...


class OpsCollector(Collector):
    """Calls each area's `metric_families` at scrape time; one failure skips one area."""

    def __init__(
        self,
        config: Config,
        state: StateDB,
        areas: Mapping[str, MetricSource],
        values: CollectorRegistry,
    ) -> None:
        self.config = config
        self.state = state
        self.areas = dict(areas)
        self._errors = Counter(
            "gristops_collector_errors",
            "Scrapes in which an ops area's metrics could not be read.",
            ["module"],
            registry=values,
        )
        for area in self.areas:
            self._errors.labels(area)  # every area's series exists from the start, at 0

    def describe(self) -> list[Metric]:
        # Describing would run a full collection when the registry is created.
        return []

    def _families(self, source: MetricSource) -> list[Metric]:
        families = source(self.config, self.state)
        wrong = [f for f in families if not isinstance(f, Metric)]
        if wrong:
            raise TypeError(f"metric_families returned {type(wrong[0]).__name__}, not a Metric")
        return list(families)

    def collect(self) -> Iterator[Metric]:
        durations = GaugeMetricFamily(
            "gristops_collector_duration_seconds",
            "Seconds the last scrape spent reading each ops area's metrics.",
            labels=["module"],
        )
        collected: list[Metric] = []
        for area, source in self.areas.items():
            start = time.perf_counter()
            try:
                collected.extend(self._families(source))
            except Exception:  # one broken area must not break the scrape
                self._errors.labels(area).inc()
                log.exception("ops metrics failed", module=area)
            durations.add_metric([area], time.perf_counter() - start)
        yield from collected
        yield durations
