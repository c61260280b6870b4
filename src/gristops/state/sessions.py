"""Refresh-token sessions: families of single-use tokens, stored only as SHA-256 digests.

A login starts a family; each refresh spends the presented token and adds its
successor to the same family. Presenting a spent token again means it leaked
(or a client raced itself): the whole family is revoked, so whoever holds the
newest token is logged out too and has to log in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gristops.state.db import Conn, StateDB

# A live token of a live family, spent: the rows it returns are the tokens rotated now.
_SPEND = (
    "UPDATE refresh_tokens SET spent_at = ?, successor_sha256 = ?"
    " WHERE token_sha256 = ? AND spent_at IS NULL AND expires_at > ?"
    # By the family's key: `family_id IN (SELECT ... WHERE revoked_at IS NULL)` made SQLite
    # build the set of every live family on each refresh (70 rotations/s at 10,000 logins).
    " AND EXISTS (SELECT 1 FROM refresh_families f"
    " WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NULL)"
    " RETURNING family_id, user_id"
)
_INSERT = "INSERT INTO refresh_tokens (token_sha256, family_id, user_id, issued_at, expires_at)"

RotationStatus = Literal["rotated", "unknown", "expired", "revoked", "reused"]


@dataclass(frozen=True)
class Rotation:
    """What spending a refresh token found. user_id/family_id are None for `unknown`."""

    status: RotationStatus
    user_id: int | None = None
    family_id: str | None = None


class RefreshSessions:
    """Refresh-token rows of the state DB.

    `retry_window`: seconds in which a spent token presented again, while its
    successor is still unused, is a retry (the answer that carried the successor
    was lost) rather than a reuse; 0 turns that off."""

    def __init__(self, db: StateDB, retry_window: float = 0.0) -> None:
        self._db = db
        self._retry_window = retry_window

    def start(
        self, family_id: str, user_id: int, token_sha256: str, now: float, expires_at: float
    ) -> None:
        """Open a family with its first token (at login)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO refresh_families (id, user_id, created_at) VALUES (?, ?, ?)",
                (family_id, user_id, now),
            )
            self._insert(conn, family_id, user_id, token_sha256, now, expires_at)

    def rotate(
        self, token_sha256: str, successor_sha256: str, now: float, expires_at: float
    ) -> Rotation:
        """Spend a token and, when it was live, store its successor, atomically.

        A live token is spent by one conditional UPDATE: of two gateways presenting
        it at once, one rotates and the other finds it spent (a reuse, or a retry
        within the retry window)."""
        spent = self._spend(token_sha256, successor_sha256, now, expires_at)
        if spent is not None:
            return Rotation("rotated", int(spent[1]), str(spent[0]))
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT t.family_id, t.user_id, t.expires_at, t.spent_at, f.revoked_at,"
                " s.token_sha256, s.spent_at"
                " FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id"
                " LEFT JOIN refresh_tokens s ON s.token_sha256 = t.successor_sha256"
                " WHERE t.token_sha256 = ?",
                (token_sha256,),
            ).fetchone()
            if row is None:
                return Rotation("unknown")
            family_id, user_id, token_expires, spent_at, revoked_at = row[:5]
            if revoked_at is not None:
                return Rotation("revoked", user_id, family_id)
            if spent_at is not None:
                if self._retried(conn, row, now, successor_sha256):
                    conn.execute(
                        "UPDATE refresh_tokens SET successor_sha256 = ? WHERE token_sha256 = ?",
                        (successor_sha256, token_sha256),
                    )
                    self._insert(conn, family_id, user_id, successor_sha256, now, expires_at)
                    return Rotation("rotated", user_id, family_id)
                self._revoke(conn, family_id, now, "reuse")
                return Rotation("reused", user_id, family_id)
            assert token_expires <= now  # a live token would have been spent above
            return Rotation("expired", user_id, family_id)

    def _retried(self, conn: Conn, row: tuple[Any, ...], now: float, successor: str) -> bool:
        """Whether a spent token presented again is a retry: spent within the retry window
        for a successor nobody has presented. That successor is then superseded (spent:
        presenting it later is a reuse), atomically, so a gateway spending it at the same
        time makes this a reuse instead."""
        spent_at, unused, unused_spent = row[3], row[5], row[6]
        if unused is None or unused_spent is not None or now - spent_at >= self._retry_window:
            return False
        superseded = conn.execute(
            "UPDATE refresh_tokens SET spent_at = ?, successor_sha256 = ?"
            " WHERE token_sha256 = ? AND spent_at IS NULL",
            (now, successor, unused),
        ).rowcount
        return superseded == 1

    def _spend(
        self, token_sha256: str, successor_sha256: str, now: float, expires_at: float
    ) -> tuple[str, int] | None:
        """(family, user) of a live token now spent with its successor stored, else None.

        On PostgreSQL this is one statement, so one round trip: the hot path of a refresh."""
        spend = (now, successor_sha256, token_sha256, now)
        successor = (successor_sha256, now, expires_at)
        if self._db.kind == "postgresql":
            with self._db.statement() as conn:
                row = conn.execute(
                    f"WITH spent AS ({_SPEND}), successor AS ("  # noqa: S608
                    f"{_INSERT} SELECT ?, family_id, user_id, ?, ? FROM spent)"
                    " SELECT family_id, user_id FROM spent",
                    spend + successor,
                ).fetchone()
            return None if row is None else (row[0], row[1])
        with self._db.transaction() as conn:
            row = conn.execute(_SPEND, spend).fetchone()
            if row is not None:
                self._insert(conn, row[0], row[1], successor_sha256, now, expires_at)
        return None if row is None else (row[0], row[1])

    def revoke_family(self, family_id: str, now: float, why: str) -> None:
        with self._db.transaction() as conn:
            self._revoke(conn, family_id, now, why)

    def revoke_by_token(self, token_sha256: str, now: float, why: str) -> int | None:
        """Revoke the family of a token (logout); returns its user id, None if unknown."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT family_id, user_id FROM refresh_tokens WHERE token_sha256 = ?",
                (token_sha256,),
            ).fetchone()
            if row is None:
                return None
            self._revoke(conn, row[0], now, why)
            return int(row[1])

    def revoke_user(self, user_id: int, now: float, why: str) -> int:
        """Revoke every live family of a user (disabled, password changed); returns how many."""
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE refresh_families SET revoked_at = ?, revoked_why = ?"
                " WHERE user_id = ? AND revoked_at IS NULL",
                (now, why, user_id),
            )
            return cur.rowcount

    def live_families(self, user_id: int) -> int:
        """How many unrevoked families a user has (sessions that can still refresh)."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM refresh_families WHERE user_id = ? AND revoked_at IS NULL",
                (user_id,),
            ).fetchone()
        return int(row[0])

    def prune(self, now: float) -> None:
        """Forget expired tokens, then families left without any token."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,))
            conn.execute(
                "DELETE FROM refresh_families WHERE NOT EXISTS"
                " (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)"
            )

    @staticmethod
    def _insert(
        conn: Conn,
        family_id: str,
        user_id: int,
        token_sha256: str,
        now: float,
        expires_at: float,
    ) -> None:
        conn.execute(
            f"{_INSERT} VALUES (?, ?, ?, ?, ?)",
            (token_sha256, family_id, user_id, now, expires_at),
        )

    @staticmethod
    def _revoke(conn: Conn, family_id: str, now: float, why: str) -> None:
        conn.execute(
            "UPDATE refresh_families SET revoked_at = ?, revoked_why = ?"
            " WHERE id = ? AND revoked_at IS NULL",
            (now, why, family_id),
        )
