"""Judging a result: the plan's thresholds, and p95 against a saved baseline."""

from __future__ import annotations

from gristops.loadtest.plan import Limits, Thresholds
from gristops.loadtest.result import Check, Result, Stats

OVERALL = "overall"
# Below this many requests a scenario's p95 is too noisy to compare with a baseline.
BASELINE_MIN_REQUESTS = 20


def _limits(scope: str, limits: Limits, stats: Stats) -> list[Check]:
    checks = []
    for metric, limit in limits.items():
        value = stats.metric(metric)
        passed = value >= limit if metric == "min_rps" else value <= limit
        checks.append(Check(kind="threshold", scope=scope, metric=metric, limit=limit,
                            value=value, passed=passed))  # fmt: skip
    return checks


def thresholds(result: Result, limits: Thresholds) -> list[Check]:
    """Every threshold of the plan, overall then per scenario (a scenario that sent nothing fails)."""
    checks = _limits(OVERALL, limits.overall, result.overall)
    for name, scenario_limits in limits.scenarios.items():
        stats = result.scenarios.get(name, Stats())
        if stats.requests == 0:
            checks.append(Check(kind="threshold", scope=name, metric="requests", limit=1,
                                value=0, passed=False))  # fmt: skip
            continue
        checks.extend(_limits(name, scenario_limits, stats))
    return checks


def _p95(scope: str, now: Stats, before: Stats, max_worse_percent: float) -> Check:
    limit = before.p95_ms * (1 + max_worse_percent / 100)
    return Check(kind="baseline", scope=scope, metric="p95_ms", limit=limit, value=now.p95_ms,
                 passed=now.p95_ms <= limit, baseline=before.p95_ms)  # fmt: skip


def against_baseline(result: Result, baseline: Result, max_worse_percent: float) -> list[Check]:
    """p95 overall and per scenario (both runs with enough requests) at most N % above the baseline."""
    checks = [_p95(OVERALL, result.overall, baseline.overall, max_worse_percent)]
    for name, now in result.scenarios.items():
        before = baseline.scenarios.get(name)
        if before and min(now.requests, before.requests) >= BASELINE_MIN_REQUESTS:
            checks.append(_p95(name, now, before, max_worse_percent))
    return checks


def judge(
    result: Result,
    limits: Thresholds,
    baseline: Result | None = None,
    max_worse_percent: float = 20.0,
) -> Result:
    """The result with its checks and whether every one passed."""
    checks = thresholds(result, limits)
    if baseline is not None:
        checks += against_baseline(result, baseline, max_worse_percent)
    return result.model_copy(
        update={"checks": checks, "passed": all(check.passed for check in checks)}
    )
