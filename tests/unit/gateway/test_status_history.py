"""The status page's request history, sampled from a real gateway metrics registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gristops.gateway.status.history import RequestHistory, Totals, quantile, read_totals
from gristops.observe.metrics import create_metrics
from gristops.state.db import StateDB

T0 = 1_800_000_000.0  # the start of a minute


@pytest.fixture
def state(state_location: Path | str) -> Iterator[StateDB]:
    db = StateDB(state_location)
    yield db
    db.close()


def test_requests_errors_and_latency_land_in_the_minute_they_happened(state: StateDB) -> None:
    metrics = create_metrics()
    history = RequestHistory(state, minutes=60, gateway="run-1")
    history.record(read_totals(metrics.registry), T0)
    route = "/api/docs/{docId}/tables"
    for status, seconds in [("200", 0.004)] * 18 + [("500", 0.2)] * 2:
        metrics.requests.labels("GET", route, status).inc()
        metrics.request_duration.labels("GET", route).observe(seconds)
    history.record(read_totals(metrics.registry), T0 + 30)
    metrics.requests.labels("GET", route, "200").inc()
    metrics.request_duration.labels("GET", route).observe(0.004)
    history.record(read_totals(metrics.registry), T0 + 70)

    points = history.series(T0 + 70, minutes=3)
    assert [p["requests"] for p in points] == [0, 20, 1]
    assert [p["errors"] for p in points] == [0, 2, 0]
    busy = points[1]
    assert busy["mean_ms"] is not None and 20 < busy["mean_ms"] < 25  # (18*4 + 2*200) / 20
    assert busy["p95_ms"] is not None and busy["p95_ms"] > 100  # the slow 10% show in p95
    assert points[0]["mean_ms"] is None and points[0]["p95_ms"] is None


def test_the_status_page_and_scrapes_do_not_count_as_traffic() -> None:
    metrics = create_metrics()
    for route in ("/status/data", "/metrics", "/status"):
        metrics.requests.labels("GET", route, "200").inc()
        metrics.request_duration.labels("GET", route).observe(0.01)
    assert read_totals(metrics.registry).requests == 0


def test_history_keeps_only_the_configured_minutes(state: StateDB) -> None:
    metrics = create_metrics()
    history = RequestHistory(state, minutes=5, gateway="run-1")
    for minute in range(10):
        metrics.requests.labels("GET", "/x", "200").inc()
        history.record(read_totals(metrics.registry), T0 + minute * 60)
    points = history.series(T0 + 9 * 60, minutes=10)
    assert [p["requests"] for p in points] == [0] * 5 + [1] * 5


def test_quantile_interpolates_within_a_bucket() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == 0.1
    assert quantile(0.75, buckets) == 0.15000000000000002
    assert quantile(0.95, {}) is None


def test_charts_span_from_the_first_sample_within_bounds(state: StateDB) -> None:
    history = RequestHistory(state, minutes=600, gateway="run-1")
    assert history.span(T0, 30, 180) == 30
    history.record(Totals(), T0)
    assert history.span(T0 + 45 * 60, 30, 180) == 46
    assert history.span(T0 + 500 * 60, 30, 180) == 180


def test_a_worker_taking_over_the_sampling_goes_on_from_the_last_sample(state: StateDB) -> None:
    """Another worker of the same run adds only what is new; another run (a restart, the
    other deploy slot) starts from its own first sample; all show in one history."""
    first, takeover = RequestHistory(state, 60, "run-1"), RequestHistory(state, 60, "run-1")
    first.record(Totals(requests=0), T0)
    first.record(Totals(requests=7), T0 + 10)
    takeover.record(Totals(requests=9), T0 + 20)
    other_run = RequestHistory(state, 60, "run-2")
    other_run.record(Totals(requests=100), T0 + 20)  # its baseline
    other_run.record(Totals(requests=103), T0 + 30)
    assert [p["requests"] for p in takeover.series(T0 + 30, 1)] == [12]


def test_a_sample_read_before_a_newer_one_adds_nothing(state: StateDB) -> None:
    """Two workers sampling at once: the one that read the totals first may commit last."""
    one, two = RequestHistory(state, 60, "run-1"), RequestHistory(state, 60, "run-1")
    one.record(Totals(requests=0), T0)
    two.record(Totals(requests=9), T0 + 5)
    one.record(Totals(requests=8), T0 + 5)  # older than what is recorded
    one.record(Totals(requests=10), T0 + 6)
    assert [p["requests"] for p in one.series(T0 + 6, 1)] == [10]


def test_the_history_adds_up_every_gateway_of_the_fleet(state_location: Path | str) -> None:
    fleet = [(create_metrics(), StateDB(state_location), f"host{n}/run") for n in range(3)]
    for n, (metrics, state, name) in enumerate(fleet):
        history = RequestHistory(state, minutes=60, gateway=name)
        history.record(read_totals(metrics.registry), T0)
        for _ in range(n + 1):
            metrics.requests.labels("GET", "/x", "200").inc()
        history.record(read_totals(metrics.registry), T0 + 10)
    any_gateway = RequestHistory(fleet[0][1], minutes=60, gateway="host0/run")
    assert [p["requests"] for p in any_gateway.series(T0 + 10, minutes=1)] == [6]
