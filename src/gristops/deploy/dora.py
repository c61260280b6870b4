"""The four DORA measures, computed from the deploy history.

- deployment frequency: good deploys per day over the period;
- lead time for changes: median time from a release's commit to its good deploy
  (releases that carry `release.json` with a commit time);
- change failure rate: deploys that reached users and had to be rolled back
  (automatically, or later by `deploy rollback`) over all that reached users;
- failed deployment recovery time: median time from such a switch to the
  rollback that restored the previous release.
Deploys stopped by a gate before the switch never reached users: they are
counted apart as failed attempts.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from gristops.deploy.records import DeployRecords, HistoryEntry

DAY = 86400.0


@dataclass(frozen=True)
class Dora:
    days: float
    deploys: int
    failed_attempts: int
    deployment_frequency_per_day: float
    lead_time_seconds: float | None
    change_failure_rate: float | None
    recovery_time_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _recovery(entry: HistoryEntry) -> float | None:
    if entry.switched_at is None:
        return None
    if entry.outcome == "rolled_back" and entry.finished_at is not None:
        return entry.finished_at - entry.switched_at
    if entry.reverted_at is not None:
        return entry.reverted_at - entry.switched_at
    return None


def compute(records: DeployRecords, days: float = 30.0, now: float | None = None) -> Dora:
    now = time.time() if now is None else now
    entries = records.history(since=now - days * DAY)
    deploys = [e for e in entries if e.kind == "deploy"]
    reached = [e for e in deploys if e.outcome in ("success", "rolled_back")]
    good = [e for e in reached if e.outcome == "success"]
    failed_changes = [e for e in reached if e.outcome == "rolled_back" or e.reverted_at]
    leads = [
        e.finished_at - e.commit_time
        for e in good
        if e.finished_at is not None and e.commit_time is not None
    ]
    recoveries = [r for e in failed_changes if (r := _recovery(e)) is not None]
    return Dora(
        days=days,
        deploys=len(reached),
        failed_attempts=sum(1 for e in deploys if e.outcome == "failed"),
        deployment_frequency_per_day=len(good) / days,
        lead_time_seconds=statistics.median(leads) if leads else None,
        change_failure_rate=len(failed_changes) / len(reached) if reached else None,
        recovery_time_seconds=statistics.median(recoveries) if recoveries else None,
    )
