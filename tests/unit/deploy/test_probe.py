"""Judging live traffic from two /metrics samples."""

from __future__ import annotations

import pytest

from gristops.deploy.probe import TrafficSample

INF = float("inf")


def test_window_and_p95() -> None:
    before = TrafficSample(10, 0, ((0.01, 10), (0.1, 10), (1.0, 10), (INF, 10)))
    after = TrafficSample(110, 5, ((0.01, 10), (0.1, 105), (1.0, 110), (INF, 110)))
    window = after.since(before)
    assert window.requests == 100 and window.errors == 5
    # 95 of the window's 100 requests took up to 0.1 s; 5 more up to 1 s.
    assert window.p95() == pytest.approx(0.1)
    # Five more slow answers move it into the next bucket.
    slower = TrafficSample(115, 5, ((0.01, 10), (0.1, 105), (1.0, 115), (INF, 115)))
    assert 0.1 < slower.since(before).p95() <= 1.0


def test_p95_in_the_open_bucket_is_its_lower_bound() -> None:
    sample = TrafficSample(10, 0, ((0.5, 0), (INF, 10)))
    assert sample.p95() == pytest.approx(0.5)


def test_empty_window() -> None:
    assert TrafficSample(0, 0, ()).p95() == 0.0
