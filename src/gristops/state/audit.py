"""The authentication audit trail: who tried what, from where, and how it ended.

Rows never hold a password or a token. The email is kept as a SHA-256 digest
of its case-folded form: an operator can check whether a given address was
targeted, while mistyped passwords pasted into the email field do not end up
readable in the trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from gristops.state.db import StateDB


@dataclass(frozen=True)
class AuthEvent:
    at: float
    event: str  # login, refresh, logout
    outcome: str  # success, bad_credentials, inactive, throttled, reuse_detected, ...
    user_id: int | None = None
    email_hash: str | None = None
    client: str | None = None
    request_id: str | None = None


_COLUMNS = "at, event, outcome, user_id, email_hash, client, request_id"


class AuthAudit:
    """Rows of `auth_events`."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, event: AuthEvent) -> None:
        with self._db.statement() as conn:
            conn.execute(
                f"INSERT INTO auth_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    event.at,
                    event.event,
                    event.outcome,
                    event.user_id,
                    event.email_hash,
                    event.client,
                    event.request_id,
                ),
            )

    def recent(self, limit: int = 100) -> list[AuthEvent]:
        """The newest events first."""
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM auth_events ORDER BY id DESC LIMIT ?",  # noqa: S608
                (limit,),
            ).fetchall()
        return [AuthEvent(*row) for row in rows]
