"""Durations as configs, plans and `--since` take them (one parser for all three)."""

from __future__ import annotations

import pytest

from gristops.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("30s", 30),
        ("2m", 120),
        ("1m30s", 90),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1d", 86400),
        ("0.5s", 0.5),
        (" 15m ", 900),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "m", "30s15m", "-5s", "2026-01-01T00:00:00"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None
