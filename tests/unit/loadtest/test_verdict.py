"""Judging a result: thresholds overall and per scenario, and p95 against a baseline."""

from __future__ import annotations

from gristops.loadtest.plan import Limits, Thresholds
from gristops.loadtest.verdict import against_baseline, judge, thresholds
from tests.unit.loadtest.sample_result import sample_result


def test_every_set_limit_is_checked_overall_and_per_scenario() -> None:
    limits = Thresholds(
        overall=Limits(p50_ms=100, p95_ms=500, p99_ms=500, error_rate=0.01, min_rps=5),
        scenarios={"login": Limits(p95_ms=300)},
    )
    result = judge(sample_result(120), limits)
    assert [(c.scope, c.metric, c.passed) for c in result.checks] == [
        ("overall", "p50_ms", True),
        ("overall", "p95_ms", True),
        ("overall", "p99_ms", True),
        ("overall", "error_rate", True),
        ("overall", "min_rps", True),
        ("login", "p95_ms", False),
    ]
    assert result.passed is False
    assert [c.describe() for c in result.failed()] == ["login p95_ms 400 (at most 300)"]


def test_errors_and_throughput_fail_when_over_or_under() -> None:
    limits = Thresholds(overall=Limits(error_rate=0.01, min_rps=50))
    failed = judge(sample_result(failures=5), limits).failed()
    assert [c.describe() for c in failed] == [
        "overall error_rate 0.05 (at most 0.01)",
        "overall min_rps 10 (at least 50)",
    ]


def test_a_scenario_that_sent_nothing_fails_its_thresholds() -> None:
    checks = thresholds(sample_result(), Thresholds(scenarios={"write": Limits(p95_ms=100)}))
    assert [(c.scope, c.metric, c.passed) for c in checks] == [("write", "requests", False)]


def test_no_thresholds_pass() -> None:
    assert judge(sample_result(), Thresholds()).passed is True


def test_baseline_fails_when_p95_grew_more_than_allowed() -> None:
    baseline = sample_result(100)
    assert all(c.passed for c in against_baseline(sample_result(117), baseline, 20))
    checks = against_baseline(sample_result(130), baseline, 20)
    assert [(c.scope, c.passed) for c in checks] == [
        ("overall", False),
        ("read", False),
        ("login", True),
    ]
    assert (
        checks[0].describe() == "overall p95 130.0 ms vs baseline 100.0 ms (+30 %, limit 120.0 ms)"
    )
    assert judge(sample_result(130), Thresholds(), baseline, 50).passed is True


def test_scenarios_with_few_requests_are_left_out_of_the_baseline() -> None:
    baseline = sample_result(100)
    baseline.scenarios["read"].requests = 5
    assert [c.scope for c in against_baseline(sample_result(100), baseline, 20)] == [
        "overall",
        "login",
    ]
