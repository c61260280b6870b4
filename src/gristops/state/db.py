"""The gristops state DB: SQLite on one machine, or PostgreSQL shared by several gateways.

It holds what must outlive a request and be seen by every gateway process:
refresh tokens, login failures, signing keys, the audit trail, backup, deploy
and job history. Methods are synchronous; async callers run them in a worker
thread. Both engines take the same SQL (qmark parameters, the common subset
of both dialects) and the same migrations; engine.py holds what differs.

`transaction()` behaves alike on both: one writer at a time, so the
read-then-write sequences of the callers never interleave, across threads,
processes and (on PostgreSQL) machines. `statement()` runs one statement as
its own transaction without that lock: for inserts and the atomic token
rotation, the requests on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gristops.errors import Unavailable
from gristops.state.engine import Conn, Engine, SqliteEngine
from gristops.state.migrations import MIGRATIONS

__all__ = ["Conn", "StateDB"]


def _engine(location: Path | str) -> Engine:
    if isinstance(location, str) and location.startswith(("postgresql://", "postgres://")):
        from gristops.state.postgres import PostgresEngine  # psycopg only where it is used

        return PostgresEngine(location)
    return SqliteEngine(Path(location))


class StateDB:
    """The state DB at `location` (a SQLite path or a postgresql:// URL), migrated on open."""

    def __init__(self, location: Path | str) -> None:
        self._engine = _engine(location)
        self.kind = self._engine.kind
        # What messages and pages may show: the path, or the URL without its password.
        self.where = self._engine.where
        self.path = location if isinstance(location, Path) else None
        try:
            self._migrate()
        except BaseException:
            self._engine.close()
            raise

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise Unavailable(
                    f"the state DB {self.where} has schema version {current}, newer than this "
                    f"gristops knows ({len(MIGRATIONS)})",
                    hint="run the gristops release that wrote it, or restore an older state DB",
                )
            for migration in MIGRATIONS[current:]:
                for statement in migration:
                    conn.execute(self._engine.ddl(statement))
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        with self.reading() as conn:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """A write transaction holding the writers' lock: reads in it see what it then changes."""
        with self._engine.transaction() as conn:
            yield conn

    @contextmanager
    def statement(self) -> Iterator[Conn]:
        """A connection whose every statement commits on its own (no writers' lock)."""
        with self._engine.autocommit() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        """A connection for reads (each statement sees a consistent snapshot)."""
        with self._engine.autocommit() as conn:
            yield conn

    def check_writable(self) -> None:
        """Raise Unavailable unless a write can be committed now (for /ready)."""
        with self.statement() as conn:
            conn.execute(
                "INSERT INTO write_probe (id, at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                (time.time(),),
            )

    def close(self) -> None:
        self._engine.close()
