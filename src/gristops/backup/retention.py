"""Which snapshots a retention policy keeps (pure: ids in, ids out).

Like restic's `forget`: walking from newest to oldest, keep the newest
`keep_last`, then the newest snapshot of each of the last `keep_daily` days,
`keep_weekly` ISO weeks and `keep_monthly` months that have one (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from gristops.backup.manifest import snapshot_created
from gristops.config.backup import RetentionSection

_BUCKETS: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("keep_daily", lambda t: t.strftime("%Y-%m-%d")),
    ("keep_weekly", lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2])),
    ("keep_monthly", lambda t: t.strftime("%Y-%m")),
)


def keep(ids: Iterable[str], policy: RetentionSection, protect: Iterable[str] = ()) -> set[str]:
    """The ids to keep; `protect` (e.g. the newest verified snapshot) is always kept."""
    newest_first = sorted(ids, reverse=True)
    kept = set(newest_first[: policy.keep_last]) | (set(protect) & set(newest_first))
    for field, bucket in _BUCKETS:
        limit = getattr(policy, field)
        seen: set[str] = set()
        for snapshot_id in newest_first:
            if len(seen) >= limit:
                break
            key = bucket(datetime.fromtimestamp(snapshot_created(snapshot_id), UTC))
            if key not in seen:
                seen.add(key)
                kept.add(snapshot_id)
    return kept
