"""The gateway's Prometheus metrics, on a registry created per app (never the global one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_duration: Histogram
    store_duration: Histogram
    store_errors: Counter
    auth_outcomes: Counter


def create_metrics() -> GatewayMetrics:
    """Fresh metrics on their own registry. Labels are bounded: route templates, not paths."""
    # The *_created series double the exposition and nothing here queries them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    return GatewayMetrics(
        registry=registry,
        requests=Counter(
            "gristops_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        request_duration=Histogram(
            "gristops_http_request_duration_seconds",
            "HTTP request duration by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        store_duration=Histogram(
            "gristops_store_operation_duration_seconds",
            "Store operation latency by store kind and operation.",
            ["store", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        store_errors=Counter(
            "gristops_store_errors",
            "Store operations that failed, by store kind, operation and error class.",
            ["store", "operation", "error"],
            registry=registry,
        ),
        auth_outcomes=Counter(
            "gristops_auth_events",
            "Authentication events by kind and outcome.",
            ["event", "outcome"],
            registry=registry,
        ),
    )


@contextmanager
def measure_store(metrics: GatewayMetrics | None, store: str, operation: str) -> Iterator[None]:
    """Time one store operation and count its failure by error class (no-op without metrics)."""
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:
        if metrics is not None:
            metrics.store_errors.labels(
                store=store, operation=operation, error=type(exc).__name__
            ).inc()
        raise
    finally:
        if metrics is not None:
            metrics.store_duration.labels(store=store, operation=operation).observe(
                time.perf_counter() - start
            )
