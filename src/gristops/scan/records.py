"""The `scan_runs` table: one row per `gristops scan`, its counts per severity and what it checked."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gristops.scan.findings import Report, Severity
from gristops.state.db import StateDB

TOP = 5  # findings kept per run for the status page (the full report is the scan's output)


@dataclass(frozen=True)
class ScanRun:
    started_at: float
    finished_at: float
    url: str | None
    counts: dict[str, int]
    top: list[dict[str, str]]
    skipped: list[str]

    @property
    def worst(self) -> str | None:
        """The worst severity found, or None for a clean run."""
        return next((s.label for s in reversed(Severity) if self.counts.get(s.label)), None)


class ScanRecords:
    """Reads and writes of `scan_runs`; each call is one transaction."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(self, report: Report, url: str | None) -> None:
        counts = report.counts()
        top = [f.as_dict() for f in report.sorted_findings()[:TOP]]
        skipped = [f"{c.name}: {c.detail}" for c in report.checks if not c.ran]
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO scan_runs (started_at, finished_at, url, low, medium, high, critical,"
                " top_findings, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report.started_at,
                    report.finished_at,
                    url,
                    counts["low"],
                    counts["medium"],
                    counts["high"],
                    counts["critical"],
                    json.dumps(top),
                    json.dumps(skipped),
                ),
            )

    def last(self) -> ScanRun | None:
        with self.state.reading() as conn:
            row = conn.execute(
                "SELECT started_at, finished_at, url, low, medium, high, critical, top_findings,"
                " skipped FROM scan_runs ORDER BY finished_at DESC, id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        counts = dict(zip(("low", "medium", "high", "critical"), row[3:7], strict=True))
        return ScanRun(row[0], row[1], row[2], counts, json.loads(row[7]), json.loads(row[8]))


def last_scan(state: StateDB) -> dict[str, object] | None:
    """The last scan's summary for the status page, or None before the first scan."""
    run = ScanRecords(state).last()
    if run is None:
        return None
    return {
        "finished_at": run.finished_at,
        "url": run.url,
        "counts": run.counts,
        "worst": run.worst,
        "top": run.top,
        "skipped": run.skipped,
    }
