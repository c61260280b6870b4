"""An experiment's figures and pass criteria, from recorded traffic (no processes)."""

from __future__ import annotations

from gristops.chaos.traffic import Outcome, Sample, Traffic
from gristops.chaos.verdict import failures, figures, split_timing


def recorded() -> Traffic:
    """Grist refused connections from 1 s to 3 s; answered again (200) at 3 s."""
    outcomes = [
        Outcome("read", 0.1, 0.01, 200),
        Outcome("write", 0.2, 0.05, 200, marker="m1"),
        Outcome("write", 1.2, 0.02, 503, retry_after="1", error="Cannot reach the Grist server"),
        Outcome("read", 1.5, 0.01, 200),
        Outcome("write", 2.0, 0.03, 503, error="circuit open"),  # no Retry-After
        Outcome("write", 3.5, 0.1, 200, marker="m2"),
    ]
    samples = [
        Sample(0.0, 200, 200, 0.0),
        Sample(1.0, 0, 503, 1.0),
        Sample(2.0, 0, 503, 1.0),
        Sample(3.0, 200, 503, 1.0),
        Sample(4.0, 200, 200, 0.0),
    ]
    return Traffic(outcomes, samples, 5.0)


def test_figures_count_the_outage_recovery_and_every_acknowledged_write() -> None:
    result = figures(recorded(), None, stored=["m1", "m2", "m2", "ghost"])
    assert result["reads_failed"] == 0
    assert result["writes_failed"] == 2
    assert result["failed_write_statuses"] == {"503": 2}
    assert result["failed_writes_without_retry_after"] == 1
    assert result["failed_write_max_while_dead_ms"] == 30.0
    assert result["fault_window_s"] == [1.0, 3.0]
    assert result["recovery_s"] == 0.6
    assert result["ready_503_seen"] and result["breaker_open_seen"] and result["normal_again"]
    assert (result["acknowledged_missing"], result["acknowledged_duplicated"]) == (0, 1)
    assert result["unacknowledged_applied"] == 1


def test_each_missed_criterion_is_one_line_and_durations_split_off() -> None:
    expect = {
        "reads_failed_max": 0,
        "fault_bit": True,
        "failed_write_statuses": [503],
        "failed_writes_retry_after": True,
        "failed_writes_say": "Grist",
        "failed_write_while_dead_max_s": 0.01,
        "recovers": True,
        "recovery_within_s": 5.0,
        "outage_visible": True,
        "writes_exactly_once": True,
    }
    result = figures(recorded(), None, stored=["m1", "m2", "m2"])
    behaviour, timing = split_timing(expect)
    assert set(timing) == {"failed_write_while_dead_max_s", "recovery_within_s"}
    assert failures(result, behaviour) == [
        "1 failed writes had no Retry-After",
        "failed writes did not say 'Grist': circuit open",
        "1 acknowledged writes duplicated",
    ]
    assert failures(result, timing) == ["slowest failed write while Grist was dead 30 ms > 10 ms"]


def test_a_planned_window_places_the_fault_when_grist_is_not_watched() -> None:
    traffic = Traffic(
        [Outcome("read", t / 10, 0.2 if 20 <= t < 40 else 0.01, 200) for t in range(60)]
    )
    result = figures(traffic, (2.0, 4.0), stored=None)
    assert result["read_p95_during_ms"] == 200.0
    assert failures(result, {"read_p95_during_max_s": 0.05}) == [
        "read p95 during the fault 200 ms > 50 ms"
    ]
    assert failures(result, {"fault_bit": True}) == [
        "no write failed: the fault did not reach the gateway"
    ]
