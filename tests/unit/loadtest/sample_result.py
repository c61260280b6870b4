"""A made-up load-test result for the tests that judge and report one (no run needed)."""

from __future__ import annotations

from gristops.loadtest.result import ErrorCount, Point, Result, Stats, Window


def stats(p95: float, *, requests: int = 100, failures: int = 0, rps: float = 10.0) -> Stats:
    return Stats(requests=requests, failures=failures, error_rate=failures / requests, rps=rps,
                 avg_ms=p95 / 2, p50_ms=p95 / 2, p95_ms=p95, p99_ms=p95 * 1.5, max_ms=p95 * 2)  # fmt: skip


def sample_result(p95: float = 120.0, *, failures: int = 0) -> Result:
    """Two scenarios over ten seconds; the overall p95 is `p95` ms."""
    timeline = [
        Point(t=float(t), users=min(t, 5), overall=Window(requests=10, failures=0, p50_ms=40, p95_ms=p95),
              scenarios={"read": Window(requests=8, p50_ms=30, p95_ms=p95 - 10),
                         "login": Window(requests=2, p50_ms=300, p95_ms=400)})
        for t in range(10)
    ]  # fmt: skip
    return Result(
        target="http://127.0.0.1:1",
        plan="plan.yaml",
        started_at="2026-12-01T00:00:00+00:00",
        seconds=10.0,
        peak_users=5,
        overall=stats(p95, failures=failures),
        scenarios={"read": stats(p95 - 10, requests=80), "login": stats(400, requests=20, rps=2)},
        timeline=timeline,
        errors=[ErrorCount(scenario="read", error="HTTPError('503 <script>')", count=failures)]
        if failures
        else [],
    )
