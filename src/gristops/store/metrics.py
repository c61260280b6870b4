"""The stores' own metrics hook: operation latency and failures, on the registry the caller gives.

Stores take a `StoreMetrics` (or None for no metrics), so they need nothing
from the gateway or from observe/; whoever builds the store owns the registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StoreMetrics:
    """`gristops_store_operation_duration_seconds`, `gristops_store_errors_total` and
    `gristops_store_fallbacks_total` (hybrid reads sent to Grist's REST API) and
    `gristops_grist_breaker_open` (1 while calls to the Grist server fail fast)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "gristops_store_operation_duration_seconds",
            "Store operation latency by store kind and operation.",
            ["store", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "gristops_store_errors",
            "Store operations that failed, by store kind, operation and error class.",
            ["store", "operation", "error"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "gristops_store_fallbacks",
            "Hybrid-store reads served by Grist's REST API because the document file "
            "was missing or unreadable, by operation and reason.",
            ["operation", "reason"],
            registry=registry,
        )
        self.breaker_open = Gauge(
            "gristops_grist_breaker_open",
            "1 while the circuit breaker to the Grist server is open: writes through Grist "
            "(and reads in server mode) fail fast with 503.",
            registry=registry,
            # Each worker has its own breaker; the last change any of them saw is the news
            # (the worker that runs the store probe keeps trying, so it sees Grist come back).
            multiprocess_mode="mostrecent",
        )


@contextmanager
def measure_store(metrics: StoreMetrics | None, store: str, operation: str) -> Iterator[None]:
    """Time one store operation and count its failure by error class (no-op without metrics)."""
    if metrics is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:
        metrics.errors.labels(store=store, operation=operation, error=type(exc).__name__).inc()
        raise
    finally:
        metrics.duration.labels(store=store, operation=operation).observe(
            time.perf_counter() - start
        )
