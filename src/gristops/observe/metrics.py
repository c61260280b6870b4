"""The gateway's Prometheus metrics, on a registry created per app (never the global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from gristops.store.metrics import LATENCY_BUCKETS, StoreMetrics


@dataclass(frozen=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_duration: Histogram
    store: StoreMetrics
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
        store=StoreMetrics(registry),
        auth_outcomes=Counter(
            "gristops_auth_events",
            "Authentication events by kind and outcome.",
            ["event", "outcome"],
            registry=registry,
        ),
    )
