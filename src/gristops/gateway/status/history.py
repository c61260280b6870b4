"""Per-minute request history for the status page, kept in memory (no Prometheus needed).

The gateway's own counters are cumulative; sampling them every few seconds
and adding the difference to the current minute gives request rate, error
rate and latency (mean and p95, from the histogram buckets) per minute for
the last hours. A ring buffer bounds the memory.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

REQUESTS = "gristops_http_requests"
DURATION = "gristops_http_request_duration_seconds"
# The page's own polling and scrapes are not the traffic an operator wants to see.
IGNORED_ROUTES = frozenset({"/status", "/status/data", "/status/{asset}", "/metrics", "/health"})


@dataclass
class Totals:
    """Cumulative counts since the process started."""

    requests: float = 0.0
    errors: float = 0.0
    duration_sum: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count

    def minus(self, older: Totals) -> Totals:
        if self.requests < older.requests:
            return self  # counters restarted: everything is new
        return Totals(
            self.requests - older.requests,
            self.errors - older.errors,
            self.duration_sum - older.duration_sum,
            {le: n - older.buckets.get(le, 0.0) for le, n in self.buckets.items()},
        )

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.duration_sum += other.duration_sum
        for le, n in other.buckets.items():
            self.buckets[le] = self.buckets.get(le, 0.0) + n


def read_totals(registry: CollectorRegistry) -> Totals:
    """Request counts, 5xx counts and latency buckets summed over routes (ignored ones left out)."""
    totals = Totals()
    for family in registry.collect():
        if family.name not in (REQUESTS, DURATION):
            continue
        for sample in family.samples:
            if sample.labels.get("route") in IGNORED_ROUTES:
                continue
            if sample.name == REQUESTS + "_total":
                totals.requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    totals.errors += sample.value
            elif sample.name == DURATION + "_sum":
                totals.duration_sum += sample.value
            elif sample.name == DURATION + "_bucket":
                le = float(sample.labels["le"])
                totals.buckets[le] = totals.buckets.get(le, 0.0) + sample.value
    return totals


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile from cumulative buckets, interpolated as Prometheus's histogram_quantile."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


class RequestHistory:
    """A ring buffer of per-minute request totals."""

    def __init__(self, minutes: int) -> None:
        self._minutes: deque[tuple[int, Totals]] = deque(maxlen=minutes)
        self._last = Totals()

    def record(self, totals: Totals, now: float) -> None:
        """Add what happened since the previous sample to the minute of `now`."""
        delta = totals.minus(self._last)
        self._last = totals
        minute = int(now // 60) * 60
        if not self._minutes or self._minutes[-1][0] != minute:
            self._minutes.append((minute, Totals()))
        self._minutes[-1][1].add(delta)

    def span(self, now: float, shortest: int, longest: int) -> int:
        """Minutes since the first sample, within [shortest, longest]: a chart for a process
        that started ten minutes ago is not three hours of nothing."""
        if not self._minutes:
            return shortest
        recorded = int(now // 60) - self._minutes[0][0] // 60 + 1
        return max(shortest, min(longest, recorded))

    def series(self, now: float, minutes: int) -> list[dict[str, float | None]]:
        """One point per minute for the last `minutes`, oldest first; quiet minutes are zeros."""
        by_minute = dict(self._minutes)
        last = int(now // 60) * 60
        points: list[dict[str, float | None]] = []
        for start in range(last - (minutes - 1) * 60, last + 60, 60):
            t = by_minute.get(start, Totals())
            points.append(
                {
                    "t": start,
                    "requests": t.requests,
                    "errors": t.errors,
                    "mean_ms": _ms(t.duration_sum / t.requests) if t.requests else None,
                    "p95_ms": _ms(quantile(0.95, t.buckets)),
                }
            )
        return points


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
