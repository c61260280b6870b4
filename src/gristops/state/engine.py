"""What the two state DB engines share, and the SQLite one (the default, one machine).

SQLite: one file in WAL mode. One connection guarded by a lock serves all
threads; across processes SQLite's own locking (BEGIN IMMEDIATE, with a busy
timeout) serializes writers.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from gristops.errors import StorageFull, Unavailable, disk_full

BUSY_TIMEOUT_MS = 5000


class Rows(Protocol):
    """What a statement gives back (a DB-API cursor)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """A state DB connection: statements with qmark (`?`) parameters."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Rows: ...


class Engine(Protocol):
    kind: str  # sqlite, postgresql
    where: str  # the path or the URL without its password

    def ddl(self, statement: str) -> str: ...

    def transaction(self) -> AbstractContextManager[Conn]: ...

    def autocommit(self) -> AbstractContextManager[Conn]: ...

    def close(self) -> None: ...


def _private_file(path: Path) -> None:
    """Create the DB file (and its directory) readable by the owner only, or tighten them."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.parent.stat().st_mode) & 0o077:
        path.parent.chmod(0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)


class SqliteEngine:
    """The state DB as one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.where = str(path)
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
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(
                f"cannot open the state DB {path}: {exc}",
                hint="check that data_dir is writable by the gristops user and the disk is not full",
            ) from exc

    def ddl(self, statement: str) -> str:
        return statement

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """BEGIN IMMEDIATE takes the write lock up front so read-then-write sequences
        cannot interleave with another process."""
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
    def autocommit(self) -> Iterator[Conn]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise self._unavailable(exc) from exc

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _unavailable(self, exc: sqlite3.Error) -> Unavailable:
        if disk_full(exc):
            return StorageFull(
                f"the state DB {self.where} was not changed: the disk is full ({exc})",
                hint="free space under data_dir; the state DB is intact",
            )
        return Unavailable(
            f"the state DB {self.where} is not usable: {exc}",
            hint="check disk space and permissions of data_dir; another process may hold a lock",
        )
