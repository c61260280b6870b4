"""The circuit breaker in front of the Grist server, on a clock the test moves."""

from __future__ import annotations

import pytest

from gristops.errors import Unavailable
from gristops.store.server.breaker import CircuitBreaker


class ManualClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: ManualClock, failures: int = 3, reset: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker("Grist server", failures, reset, clock)


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        b.admit()
        b.failed()


def test_stays_closed_below_the_threshold_and_a_success_starts_the_count_again() -> None:
    b = breaker(ManualClock())
    fail(b, 2)
    b.admit()
    b.succeeded()
    fail(b, 2)
    b.admit()
    assert b.state == "closed"


def test_opens_after_consecutive_failures_and_refuses_with_a_hint() -> None:
    b = breaker(ManualClock())
    fail(b, 3)
    assert b.state == "open"
    with pytest.raises(Unavailable, match=r"Grist server unavailable \(circuit open\)") as caught:
        b.admit()
    assert "3 calls in a row failed" in caught.value.hint
    assert "10s" in caught.value.hint


def test_after_the_reset_one_trial_goes_through_and_the_others_wait() -> None:
    clock = ManualClock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    assert b.state == "half-open"
    b.admit()
    with pytest.raises(Unavailable, match="circuit open"):
        b.admit()


def test_a_successful_trial_closes_the_circuit() -> None:
    clock = ManualClock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    b.admit()
    b.succeeded()
    assert b.state == "closed"
    fail(b, 2)
    b.admit()


def test_a_failed_trial_opens_it_for_another_reset_period() -> None:
    clock = ManualClock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    fail(b, 1)
    assert b.state == "open"
    clock.now += 9
    with pytest.raises(Unavailable):
        b.admit()
    clock.now += 1
    b.admit()


def test_an_abandoned_trial_lets_the_next_caller_try() -> None:
    clock = ManualClock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    b.admit()
    b.abandoned()
    b.admit()


def test_an_open_circuit_says_when_to_retry_and_reports_each_change() -> None:
    clock = ManualClock()
    changes: list[bool] = []
    b = CircuitBreaker("Grist server", 2, 10.0, clock, changes.append)
    fail(b, 2)
    clock.now += 2.5
    with pytest.raises(Unavailable) as refused:
        b.check()  # fails fast before a caller queues for a slot
    assert refused.value.retry_after == 8  # seconds until the trial call, rounded up
    clock.now += 8
    b.check()  # half-open: check() lets callers queue, admit() picks the one trial
    b.admit()
    b.failed()  # the trial failed: still open, no second "opened" report
    clock.now += 10
    b.admit()
    b.succeeded()
    assert changes == [True, False]
