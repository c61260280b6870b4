"""One `.grist` file: per-thread SQLite connections, a change token, a write lock, caches.

The journal mode is left as the file has it (DELETE as Grist writes it, WAL
once Litestream replicates it). Worker-thread connections wait up to
BUSY_TIMEOUT for locks instead of failing with "database is locked"; writes
of this process are also serialized per document, so they queue instead of
polling SQLite. The event loop's own connection never waits (`wait=False`):
a lock or a cold cache there raises NeedsWorker and the read moves to a worker.

The change token tells whether the file changed since a cached schema or sort
order was computed, cheaply: this process's write counter, the file's inode,
mtime and size, the header's change counter (bumped by every commit in
rollback-journal mode) and the WAL index header (bumped by every commit in
WAL mode). A replaced file (restore) has a new inode: connections reopen.
The WAL index is read only when the header says the file is in WAL mode.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from gristops.errors import NotFound
from gristops.store.metadata import Schema, read_schema

BUSY_TIMEOUT_SECONDS = 10.0
_HEADER_BYTES = 28
_HEADER_COUNTER = slice(24, 28)
# Header byte 18 (file format write version) is 2 in WAL mode, 1 otherwise.
_HEADER_WAL = slice(18, 19)
_WAL = b"\x02"
_WAL_INDEX_HEADER_BYTES = 48
_ORDER_CACHE_ENTRIES = 64

Token = tuple[Hashable, ...]


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _missing() -> NotFound:
    return NotFound("document not found", "check the document id in the URL")


class NeedsWorker(Exception):
    """Raised on the event loop's fast path when a read would wait or do slow work."""


class _Descriptors:
    """Read-only descriptors of files that SQLite locks, kept open until close().

    Closing any descriptor of a file drops every POSIX lock this process holds
    on it, SQLite's included: reading the header with open()/close() while a
    worker held the write lock let other processes write in the middle of it.
    So each (path, inode) is opened once; a replaced file gets a new descriptor.
    """

    def __init__(self) -> None:
        self._by_inode: dict[tuple[str, int], int] = {}
        self._opened: list[int] = []
        self._lock = threading.Lock()

    def head(self, path: str, size: int) -> tuple[os.stat_result, bytes]:
        """The file's stat and its first `size` bytes; FileNotFoundError when it is gone."""
        stat = os.stat(path)
        fd = self._by_inode.get((path, stat.st_ino))
        if fd is None:
            fd, stat = self._open(path, stat.st_ino)
        return stat, os.pread(fd, size, 0)

    def _open(self, path: str, inode: int) -> tuple[int, os.stat_result]:
        with self._lock:
            fd = self._by_inode.get((path, inode))
            if fd is not None:
                return fd, os.fstat(fd)
            fd = os.open(path, os.O_RDONLY)
            self._opened.append(fd)
            # The path may have been replaced since it was stat'ed: trust the opened file.
            stat = os.fstat(fd)
            self._by_inode.setdefault((path, stat.st_ino), fd)
            return fd, stat

    def close(self) -> None:
        with self._lock:
            opened, self._opened, self._by_inode = self._opened, [], {}
        for fd in opened:
            os.close(fd)


class OrderCache:
    """Recently computed sort orders (row ids), valid while the token is unchanged."""

    def __init__(self, entries: int = _ORDER_CACHE_ENTRIES) -> None:
        self._entries = entries
        self._items: OrderedDict[Hashable, tuple[Token, list[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, token: Token) -> list[int] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] != token:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, token: Token, ids: list[int]) -> None:
        with self._lock:
            self._items[key] = (token, ids)
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)


class DocFile:
    """Access to one document file, shared by the store's worker threads."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        # Read-only: SQLite opens the file with mode=ro, so nothing here can write
        # a document another program (a Grist server) owns.
        self._mode = "ro" if read_only else "rw"
        self.write_lock = threading.Lock()
        self.orders = OrderCache()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._files = _Descriptors()
        self._generation = 0
        self._schema: tuple[Token, Schema] | None = None

    def connection(self, token: Token, *, wait: bool = True) -> sqlite3.Connection:
        """This thread's connection to the file the token saw, reopened when it was replaced.

        With `wait=False` (the event loop's fast path) locks are never waited
        for: SQLITE_BUSY raises at once instead of sleeping in the loop thread.
        """
        inode = token[1]
        slot = "held" if wait else "held_nowait"
        held: tuple[sqlite3.Connection, int] | None = getattr(self._local, slot, None)
        if held is not None and held[1] == inode:
            return held[0]
        if held is not None:
            self._forget(held[0])
        timeout = BUSY_TIMEOUT_SECONDS if wait else 0.0
        try:
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + f"?mode={self._mode}",
                uri=True,
                timeout=timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.OperationalError:
            raise _missing() from None
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.create_function("gristops_casefold", 1, _casefold, deterministic=True)
        with self._lock:
            self._connections.append(conn)
        setattr(self._local, slot, (conn, inode))
        return conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def token(self) -> Token:
        """Changes whenever the file's content may have changed (see the module doc)."""
        path = str(self.path)
        try:
            stat, header = self._files.head(path, _HEADER_BYTES)
        except FileNotFoundError:
            raise _missing() from None
        wal_index = b""
        if header[_HEADER_WAL] == _WAL:
            with suppress(FileNotFoundError):  # no connection has opened the WAL yet
                wal_index = self._files.head(f"{path}-shm", _WAL_INDEX_HEADER_BYTES)[1]
        counter = header[_HEADER_COUNTER]
        return (self._generation, stat.st_ino, stat.st_mtime_ns, stat.st_size, counter, wal_index)

    def changed(self) -> None:
        """Call after this process committed a write."""
        with self._lock:
            self._generation += 1

    def schema(self, conn: sqlite3.Connection, token: Token, *, cached: bool = False) -> Schema:
        """The tables and columns, re-read only when the token changed.

        With `cached=True` a stale schema raises NeedsWorker instead of being re-read.
        """
        hit = self._schema
        if hit is not None and hit[0] == token:
            return hit[1]
        if cached:
            raise NeedsWorker
        schema = read_schema(conn)
        self._schema = (token, schema)
        return schema

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._files.close()


@contextmanager
def reading(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: every statement inside sees the same snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


@contextmanager
def writing(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction taken up front (BEGIN IMMEDIATE): all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
