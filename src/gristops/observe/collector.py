"""The ops collector: backup, replication, TLS and deploy gauges, read at scrape time.

Each ops area exposes `metric_families(config, state) -> list[Metric]` in its
own module. Modules are imported lazily so an area that is not installed (or
not written yet) is skipped, and one area failing costs only its own metrics:
the failure is logged and counted in `gristops_collector_errors_total{module}`.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gristops.config import Config
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.observe")

OPS_MODULES: tuple[str, ...] = (
    "gristops.backup.metrics",
    "gristops.backup.replication.metrics",
    "gristops.edge.tls.metrics",
    "gristops.deploy.metrics",
    "gristops.agent.metrics",
)


class MetricSource(Protocol):
    def __call__(self, config: Config, state: StateDB) -> list[Metric]: ...


def _absent(exc: ImportError, module: str) -> bool:
    """True when the module (or a package above it) does not exist, not when it fails to import."""
    missing = exc.name or ""
    return isinstance(exc, ModuleNotFoundError) and (
        module == missing or module.startswith(missing + ".")
    )


def load_source(module: str) -> MetricSource | None:
    """The module's `metric_families`, or None when the module does not exist."""
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        if _absent(exc, module):
            return None
        raise
    source: MetricSource = loaded.metric_families
    return source


class OpsCollector(Collector):
    """Calls every ops module's `metric_families` at scrape time; one failure skips one module."""

    def __init__(
        self,
        config: Config,
        state: StateDB,
        modules: Iterable[str] = OPS_MODULES,
        loader: Callable[[str], MetricSource | None] = load_source,
    ) -> None:
        self.config = config
        self.state = state
        self.modules = tuple(modules)
        self.loader = loader
        self._lock = threading.Lock()
        self._errors = dict.fromkeys(self.modules, 0)

    def describe(self) -> list[Metric]:
        # Describing would run a full collection when the registry is created.
        return []

    def _families(self, module: str) -> list[Metric]:
        source = self.loader(module)
        if source is None:
            return []
        families = source(self.config, self.state)
        wrong = [f for f in families if not isinstance(f, Metric)]
        if wrong:
            raise TypeError(f"metric_families returned {type(wrong[0]).__name__}, not a Metric")
        return list(families)

    def collect(self) -> Iterator[Metric]:
        durations = GaugeMetricFamily(
            "gristops_collector_duration_seconds",
            "Seconds the last scrape spent reading each ops module's metrics.",
            labels=["module"],
        )
        collected: list[Metric] = []
        for module in self.modules:
            start = time.perf_counter()
            try:
                collected.extend(self._families(module))
            except Exception:  # one broken area must not break the scrape
                with self._lock:
                    self._errors[module] += 1
                log.exception("ops metrics failed", module=module)
            durations.add_metric([module], time.perf_counter() - start)
        errors = CounterMetricFamily(
            "gristops_collector_errors",
            "Scrapes in which an ops module's metrics could not be read.",
            labels=["module"],
        )
        with self._lock:
            for module, count in self._errors.items():
                errors.add_metric([module], count)
        yield from collected
        yield durations
        yield errors
