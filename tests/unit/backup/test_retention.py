"""Retention: last N, then one per day / ISO week / month, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gristops.backup.manifest import new_snapshot_id
from gristops.backup.retention import keep
from gristops.config.backup import RetentionSection


def _ids(days: int, per_day: int = 2) -> list[str]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        new_snapshot_id((start + timedelta(days=d, hours=h)).timestamp())
        for d in range(days)
        for h in range(per_day)
    ]


def test_defaults_keep_one_a_day_for_a_week_and_weeks_and_months_after() -> None:
    ids = _ids(120)
    kept = keep(ids, RetentionSection())
    newest = sorted(ids)[-1]
    assert newest in kept
    days = {i[:8] for i in kept}
    assert len(kept) <= 1 + 7 + 4 + 3
    assert len(days) == len(kept)  # never two of one day
    assert sum(i[:8] >= sorted(ids)[-14][:8] for i in kept) >= 7


def test_a_protected_snapshot_is_kept_even_when_old() -> None:
    ids = _ids(60)
    oldest = sorted(ids)[0]
    assert oldest not in keep(ids, RetentionSection())
    assert oldest in keep(ids, RetentionSection(), protect=[oldest])


def test_zero_buckets_keep_only_the_last() -> None:
    ids = _ids(10)
    policy = RetentionSection(keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0)
    assert keep(ids, policy) == set(sorted(ids)[-2:])
