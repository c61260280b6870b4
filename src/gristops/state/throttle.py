"""Failed logins per account and per client address, shared by every gateway process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gristops.state.db import StateDB

Scope = Literal["account", "client"]


@dataclass(frozen=True)
class FailureKey:
    """Whose failures: an account (a digest of the email) or a client address."""

    scope: Scope
    key: str


@dataclass(frozen=True)
class FailureCount:
    count: int
    last_at: float | None


class LoginFailures:
    """Rows of `login_failures`: one per failed attempt and key."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, keys: Iterable[FailureKey], now: float) -> None:
        with self._db.statement() as conn:
            conn.executemany(
                "INSERT INTO login_failures (scope, key, at) VALUES (?, ?, ?)",
                [(k.scope, k.key, now) for k in keys],
            )

    def count_since(self, key: FailureKey, since: float) -> FailureCount:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*), MAX(at) FROM login_failures WHERE scope = ? AND key = ? AND at > ?",
                (key.scope, key.key, since),
            ).fetchone()
        return FailureCount(int(row[0]), row[1])

    def clear(self, key: FailureKey) -> None:
        with self._db.statement() as conn:
            conn.execute(
                "DELETE FROM login_failures WHERE scope = ? AND key = ?", (key.scope, key.key)
            )

    def prune(self, before: float) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE at <= ?", (before,))
