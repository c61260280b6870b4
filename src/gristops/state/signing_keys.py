"""The access tokens' signing keys, in the state DB so that every gateway shares them.

A key is its kid and its private key as PKCS#8 PEM. Whoever can read the state
DB can sign tokens: the SQLite file is private to the gristops user, and on
PostgreSQL the database's role should be too.
"""

from __future__ import annotations

from gristops.state.db import StateDB


class SigningKeys:
    """Rows of `signing_keys`."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def kids(self) -> set[str]:
        with self._db.reading() as conn:
            return {str(row[0]) for row in conn.execute("SELECT kid FROM signing_keys").fetchall()}

    def pem(self, kid: str) -> bytes | None:
        with self._db.reading() as conn:
            row = conn.execute("SELECT pem FROM signing_keys WHERE kid = ?", (kid,)).fetchone()
        return None if row is None else str(row[0]).encode()

    def add(self, kid: str, pem: bytes, now: float) -> None:
        with self._db.statement() as conn:
            conn.execute(
                "INSERT INTO signing_keys (kid, pem, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (kid) DO NOTHING",
                (kid, pem.decode(), now),
            )

    def delete(self, kid: str) -> None:
        with self._db.statement() as conn:
            conn.execute("DELETE FROM signing_keys WHERE kid = ?", (kid,))
