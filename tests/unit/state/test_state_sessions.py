"""Refresh-token families in the state DB: rotation, reuse detection, revocation, pruning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gristops.state.db import StateDB
from gristops.state.sessions import _SPEND, RefreshSessions


@pytest.fixture
def sessions(state_location: Path | str) -> RefreshSessions:
    return RefreshSessions(StateDB(state_location))


def test_a_live_token_rotates_once_into_its_successor(sessions: RefreshSessions) -> None:
    sessions.start("fam", 7, "t1", now=100, expires_at=200)
    first = sessions.rotate("t1", "t2", now=110, expires_at=210)
    assert (first.status, first.user_id, first.family_id) == ("rotated", 7, "fam")
    assert sessions.rotate("t2", "t3", now=120, expires_at=220).status == "rotated"


def test_spending_a_token_twice_revokes_the_whole_family(sessions: RefreshSessions) -> None:
    sessions.start("fam", 7, "t1", now=100, expires_at=200)
    sessions.start("other", 7, "o1", now=100, expires_at=200)
    sessions.rotate("t1", "t2", now=110, expires_at=210)
    reuse = sessions.rotate("t1", "x", now=120, expires_at=220)
    assert (reuse.status, reuse.user_id) == ("reused", 7)
    assert sessions.rotate("t2", "t3", now=130, expires_at=230).status == "revoked"
    assert sessions.rotate("x", "y", now=130, expires_at=230).status == "unknown"
    # Another login of the same user is untouched.
    assert sessions.rotate("o1", "o2", now=130, expires_at=230).status == "rotated"
    assert sessions.live_families(7) == 1


def test_unknown_and_expired_tokens_do_not_rotate(sessions: RefreshSessions) -> None:
    assert sessions.rotate("nope", "n2", now=100, expires_at=200).status == "unknown"
    sessions.start("fam", 7, "t1", now=100, expires_at=200)
    assert sessions.rotate("t1", "t2", now=200, expires_at=300).status == "expired"
    assert sessions.rotate("t2", "t3", now=150, expires_at=300).status == "unknown"


def test_logout_revokes_by_token_and_disabling_revokes_every_login(
    sessions: RefreshSessions,
) -> None:
    sessions.start("a", 1, "a1", now=0, expires_at=100)
    sessions.start("b", 1, "b1", now=0, expires_at=100)
    sessions.start("c", 2, "c1", now=0, expires_at=100)
    assert sessions.revoke_by_token("a1", now=1, why="logout") == 1
    assert sessions.revoke_by_token("missing", now=1, why="logout") is None
    assert sessions.rotate("a1", "a2", now=2, expires_at=100).status == "revoked"
    assert sessions.revoke_user(1, now=3, why="disabled") == 1
    assert sessions.rotate("b1", "b2", now=4, expires_at=100).status == "revoked"
    assert sessions.rotate("c1", "c2", now=4, expires_at=100).status == "rotated"


def test_pruning_forgets_expired_tokens_and_their_empty_families(
    sessions: RefreshSessions,
) -> None:
    sessions.start("old", 1, "o1", now=0, expires_at=50)
    sessions.start("new", 1, "n1", now=0, expires_at=500)
    sessions.prune(now=100)
    assert sessions.live_families(1) == 1
    assert sessions.rotate("o1", "o2", now=101, expires_at=600).status == "unknown"
    assert sessions.rotate("n1", "n2", now=101, expires_at=600).status == "rotated"


def test_a_retry_within_the_window_supersedes_the_unused_successor(
    state_location: Path | str,
) -> None:
    sessions = RefreshSessions(StateDB(state_location), retry_window=10)
    sessions.start("fam", 7, "t1", now=100, expires_at=500)
    sessions.rotate("t1", "lost", now=110, expires_at=510)  # its answer never arrived
    assert sessions.rotate("t1", "t2", now=112, expires_at=512).status == "rotated"
    assert sessions.rotate("t2", "t3", now=113, expires_at=513).status == "rotated"
    # The superseded successor is spent: whoever presents it now reuses a token.
    assert sessions.rotate("lost", "x", now=114, expires_at=514).status == "reused"
    assert sessions.live_families(7) == 0


def test_a_spent_token_whose_successor_was_used_or_is_too_old_is_a_reuse(
    state_location: Path | str,
) -> None:
    sessions = RefreshSessions(StateDB(state_location), retry_window=10)
    sessions.start("a", 7, "a1", now=100, expires_at=500)
    sessions.rotate("a1", "a2", now=110, expires_at=510)
    sessions.rotate("a2", "a3", now=111, expires_at=511)
    assert sessions.rotate("a1", "x", now=112, expires_at=512).status == "reused"
    sessions.start("b", 8, "b1", now=100, expires_at=500)
    sessions.rotate("b1", "b2", now=110, expires_at=510)
    assert sessions.rotate("b1", "y", now=120, expires_at=520).status == "reused"


def test_a_refresh_looks_its_family_up_by_key_not_by_scanning_every_family(
    tmp_path: Path,
) -> None:
    """Every login adds a family: a refresh that scanned them all slowed down as logins
    accumulated (82 rotations/s from 12,000 at about 10,000 families, measured)."""
    path = tmp_path / "state.db"
    StateDB(path).close()
    with sqlite3.connect(path) as db:
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + _SPEND, (1, "a", "b", 1))]
    assert not [step for step in plan if step.startswith("SCAN")], plan
    assert any("refresh_families" in step or "SEARCH f " in step for step in plan), plan
