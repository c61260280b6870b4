"""The gristops state DB: one SQLite file in WAL mode, shared by every gateway process.

It holds what must outlive a request and be seen by all gateway processes on
the machine: refresh tokens, login failures, the audit trail (and later the
backup catalog and deploy history). Methods are synchronous; async callers run
them in a worker thread. One connection guarded by a lock serves all threads;
across processes SQLite's own locking (with a busy timeout) serializes writers.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gristops.errors import StorageFull, Unavailable, disk_full
from gristops.state.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 5000


def _private_file(path: Path) -> None:
    """Create the DB file (and its directory) readable by the owner only, or tighten them."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.parent.stat().st_mode) & 0o077:
        path.parent.chmod(0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)


class StateDB:
    """The state DB at `path`, created and migrated to the latest schema on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            _private_file(path)
            # SQLite gives the -wal and -shm files the database file's permissions.
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(
                f"cannot open the state DB {path}: {exc}",
                hint="check that data_dir is writable by the gristops user and the disk is not full",
            ) from exc

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise Unavailable(
                    f"the state DB {self.path} has schema version {current}, newer than this "
                    f"gristops knows ({len(MIGRATIONS)})",
                    hint="run the gristops release that wrote it, or restore an older state DB",
                )
            for migration in MIGRATIONS[current:]:
                for statement in migration:
                    conn.execute(statement)
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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; BEGIN IMMEDIATE takes the write lock up front so
        read-then-write sequences cannot interleave with another process."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                raise self._unavailable(exc) from exc
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (each statement sees a consistent snapshot)."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise self._unavailable(exc) from exc

    def check_writable(self) -> None:
        """Raise Unavailable unless a write can be committed now (for /ready)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO write_probe (id, at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                (time.time(),),
            )

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _unavailable(self, exc: sqlite3.Error) -> Unavailable:
        if disk_full(exc):
            return StorageFull(
                f"the state DB {self.path} was not changed: the disk is full ({exc})",
                hint="free space under data_dir; the state DB is intact",
            )
        return Unavailable(
            f"the state DB {self.path} is not usable: {exc}",
            hint="check disk space and permissions of data_dir; another process may hold a lock",
        )
