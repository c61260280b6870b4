"""Per-minute request history for the status page, kept in the state DB (no Prometheus needed).

The gateway's own counters are cumulative; sampling them every few seconds
and adding the difference to the current minute gives request rate, error
rate and latency (mean and p95, from the histogram buckets) per minute for
the last hours. One worker samples the totals of all workers (the leader, see
gateway/workers.py) into the `request_minutes` table; any worker answers the
page from it, so the charts show the whole gateway and outlive a restart.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field

import anyio.to_thread
import structlog
from prometheus_client import CollectorRegistry

from gristops.errors import GristopsError
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.gateway.status")

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
    """Per-minute request totals in `request_minutes`, the last `minutes` of them.

    `gateway` names the counters sampled (one `gristops serve` run, whose counters
    never go back): the totals it last sampled are kept beside the minutes, so any
    worker may sample (the leader on its clock, the one answering the page just
    before) and adds exactly what happened since; a new run starts from its first
    sample."""

    def __init__(self, state: StateDB, minutes: int, gateway: str) -> None:
        self.state = state
        self.minutes = minutes
        self.gateway = gateway

    def record(self, totals: Totals, now: float) -> None:
        """Add what happened since the previous sample of this gateway to the minute of `now`."""
        minute = int(now // 60) * 60
        with self.state.transaction() as conn:
            row = conn.execute(
                "SELECT totals FROM request_baselines WHERE gateway = ?", (self.gateway,)
            ).fetchone()
            baseline = None if row is None else _decode(row[0])
            if baseline is not None and totals.requests < baseline.requests:
                return  # read before another worker's newer sample: nothing new in it
            delta = Totals() if baseline is None else totals.minus(baseline)
            row = conn.execute(
                "SELECT requests, errors, duration_sum, buckets FROM request_minutes"
                " WHERE minute = ?",
                (minute,),
            ).fetchone()
            current = Totals() if row is None else _totals(row)
            current.add(delta)
            conn.execute(
                "INSERT INTO request_minutes"
                " (minute, requests, errors, duration_sum, buckets) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (minute) DO UPDATE SET requests = excluded.requests,"
                " errors = excluded.errors, duration_sum = excluded.duration_sum,"
                " buckets = excluded.buckets",
                (minute, current.requests, current.errors, current.duration_sum,
                 _buckets(current)),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO request_baselines (gateway, at, totals) VALUES (?, ?, ?)"
                " ON CONFLICT (gateway) DO UPDATE SET at = excluded.at, totals = excluded.totals",
                (self.gateway, now, _encode(totals)),
            )
            horizon = minute - self.minutes * 60
            conn.execute("DELETE FROM request_minutes WHERE minute <= ?", (horizon,))
            conn.execute("DELETE FROM request_baselines WHERE at <= ?", (horizon,))

    def _recorded(self, since: int) -> dict[int, Totals]:
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT minute, requests, errors, duration_sum, buckets FROM request_minutes"
                " WHERE minute >= ?",
                (since,),
            ).fetchall()
        return {int(row[0]): _totals(row[1:]) for row in rows}

    def span(self, now: float, shortest: int, longest: int) -> int:
        """Minutes since the first sample, within [shortest, longest]: a chart for a gateway
        that started ten minutes ago is not three hours of nothing."""
        with self.state.reading() as conn:
            first = conn.execute("SELECT MIN(minute) FROM request_minutes").fetchone()[0]
        if first is None:
            return shortest
        recorded = int(now // 60) - int(first) // 60 + 1
        return max(shortest, min(longest, recorded))

    def series(self, now: float, minutes: int) -> list[dict[str, float | None]]:
        """One point per minute for the last `minutes`, oldest first; quiet minutes are zeros."""
        last = int(now // 60) * 60
        first = last - (minutes - 1) * 60
        by_minute = self._recorded(first)
        points: list[dict[str, float | None]] = []
        for start in range(first, last + 60, 60):
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

    async def sample_forever(self, registry: CollectorRegistry, seconds: float) -> None:
        """Sample `registry` every `seconds` until cancelled."""

        def sample() -> None:
            try:
                self.record(read_totals(registry), time.time())
            except GristopsError as exc:  # a busy state DB costs one sample, not the sampler
                log.warning("request history not recorded", error=exc.message)

        while True:
            await anyio.to_thread.run_sync(sample)
            await asyncio.sleep(seconds)


def _buckets(totals: Totals) -> str:
    return json.dumps({repr(le): n for le, n in totals.buckets.items()})


def _totals(row: tuple[float, float, float, str]) -> Totals:
    requests, errors, duration_sum, buckets = row
    parsed = {float(le): float(n) for le, n in json.loads(buckets).items()}
    return Totals(float(requests), float(errors), float(duration_sum), parsed)


def _encode(totals: Totals) -> str:
    return json.dumps([totals.requests, totals.errors, totals.duration_sum, _buckets(totals)])


def _decode(text: str) -> Totals:
    requests, errors, duration_sum, buckets = json.loads(text)
    return _totals((requests, errors, duration_sum, buckets))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
