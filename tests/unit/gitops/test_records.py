"""Reconcile passes in the state DB, on both engines."""

from __future__ import annotations

from pathlib import Path

from gristops.gitops.records import GitopsRun, GitopsRuns
from gristops.state.db import StateDB


def test_passes_are_kept_newest_first_and_bad_commits_remembered(
    state_location: Path | str,
) -> None:
    runs = GitopsRuns(StateDB(state_location))
    first = runs.record(
        GitopsRun(0, 1.0, 2.0, "timer", "a1", "a1", "applied", False, "r1", "", "", None)
    )
    second = runs.record(
        GitopsRun(0, 3.0, 4.0, "timer", "b2", "b2", "failed", True, None, "", "", "x")
    )
    assert second > first
    assert [r.commit_sha for r in runs.history()] == ["b2", "a1"]
    assert runs.is_bad("b2") and not runs.is_bad("a1")
    assert runs.counts()["applied"] == 1
