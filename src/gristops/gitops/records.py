"""The `gitops_runs` table: one row per reconcile pass, and the commits marked bad."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gristops.state.db import StateDB

Outcome = Literal[
    "applied", "in_sync", "drift", "reverted", "rolled_back", "failed", "refused", "skipped"
]
# Outcomes after which the live state is the commit's desired state (as far as the pass knows).
LIVE_OUTCOMES = ("applied", "in_sync", "reverted")
COLUMNS = (
    "id, started_at, finished_at, trigger, head_sha, commit_sha, outcome, bad, release_id, "
    "changes, diff, reason"
)


@dataclass(frozen=True)
class GitopsRun:
    id: int
    started_at: float
    finished_at: float
    trigger: str
    head_sha: str | None
    commit_sha: str | None
    outcome: Outcome
    bad: bool
    release_id: str | None
    changes: str
    diff: str
    reason: str | None


def _run(row: tuple[Any, ...]) -> GitopsRun:
    (id_, started, finished, trigger, head, commit, outcome, bad, release, changes, diff, why) = row
    return GitopsRun(
        id_, started, finished, trigger, head, commit, outcome, bool(bad), release, changes, diff,
        why,
    )  # fmt: skip


class GitopsRuns:
    """Reads and writes of `gitops_runs`; each call is one transaction."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(self, run: GitopsRun) -> int:
        with self.state.transaction() as conn:
            row = conn.execute(
                f"INSERT INTO gitops_runs ({COLUMNS.removeprefix('id, ')}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    run.started_at, run.finished_at, run.trigger, run.head_sha, run.commit_sha,
                    run.outcome, int(run.bad), run.release_id, run.changes, run.diff, run.reason,
                ),
            ).fetchone()  # fmt: skip
            return int(row[0])

    def _select(self, where: str, params: tuple[object, ...], limit: int) -> list[GitopsRun]:
        with self.state.reading() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM gitops_runs {where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
        return [_run(row) for row in rows]

    def history(self, limit: int = 20) -> list[GitopsRun]:
        """Passes, newest first."""
        return self._select("", (), limit)

    def last(self) -> GitopsRun | None:
        return next(iter(self.history(1)), None)

    def applied(self) -> GitopsRun | None:
        """The latest pass after which a commit's state was live."""
        marks = ", ".join("?" * len(LIVE_OUTCOMES))
        return next(iter(self._select(f"WHERE outcome IN ({marks})", LIVE_OUTCOMES, 1)), None)

    def is_bad(self, commit_sha: str) -> bool:
        """True when a pass marked `commit_sha` bad (its deploy failed or was rolled back)."""
        with self.state.reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM gitops_runs WHERE commit_sha = ? AND bad = 1 LIMIT 1",
                (commit_sha,),
            ).fetchone()
        return row is not None

    def counts(self) -> dict[str, int]:
        """Passes per outcome."""
        with self.state.reading() as conn:
            rows = conn.execute("SELECT outcome, count(*) FROM gitops_runs GROUP BY outcome")
            return {str(outcome): int(count) for outcome, count in rows.fetchall()}

    def last_success_at(self) -> float | None:
        """When a pass last ended with the desired state live."""
        marks = ", ".join("?" * len(LIVE_OUTCOMES))
        with self.state.reading() as conn:
            row = conn.execute(
                f"SELECT max(finished_at) FROM gitops_runs WHERE outcome IN ({marks})",  # noqa: S608
                LIVE_OUTCOMES,
            ).fetchone()
        return None if row[0] is None else float(row[0])


def last_pass(state: StateDB) -> dict[str, object] | None:
    """The last pass's summary for the status page, or None before the first pass."""
    runs = GitopsRuns(state)
    last = runs.last()
    if last is None:
        return None
    applied = runs.applied()
    return {
        "finished_at": last.finished_at,
        "outcome": last.outcome,
        "commit": last.commit_sha,
        "applied_commit": applied.commit_sha if applied else None,
        "head_bad": last.head_sha is not None and runs.is_bad(last.head_sha),
        "reason": last.reason,
    }
