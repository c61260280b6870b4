"""One `.grist` file: per-thread SQLite connections, a change token, a write lock, caches.

The journal mode is left as the file has it (DELETE as Grist writes it, WAL
once Litestream replicates it). Every connection waits up to BUSY_TIMEOUT for
locks instead of failing with "database is locked"; writes of this process
are also serialized per document, so they queue instead of polling SQLite.

The change token tells whether the file changed since a cached schema or sort
order was computed, cheaply: this process's write counter, the file's inode,
mtime and size, the header's change counter (bumped by every commit in
rollback-journal mode) and the WAL index header (bumped by every commit in
WAL mode). A replaced file (restore) has a new inode: connections reopen.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gristops.errors import NotFound
from gristops.store.metadata import Schema, read_schema

BUSY_TIMEOUT_SECONDS = 10.0
_HEADER_COUNTER = slice(24, 28)
_WAL_INDEX_HEADER_BYTES = 48
_ORDER_CACHE_ENTRIES = 64

Token = tuple[Hashable, ...]


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _missing() -> NotFound:
    return NotFound("document not found", "check the document id in the URL")


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

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write_lock = threading.Lock()
        self.orders = OrderCache()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0
        self._schema: tuple[Token, Schema] | None = None

    def connection(self, token: Token) -> sqlite3.Connection:
        """This thread's connection to the file the token saw, reopened when it was replaced."""
        inode = token[1]
        held: tuple[sqlite3.Connection, int] | None = getattr(self._local, "held", None)
        if held is not None and held[1] == inode:
            return held[0]
        if held is not None:
            self._forget(held[0])
        try:
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.OperationalError:
            raise _missing() from None
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.create_function("gristops_casefold", 1, _casefold, deterministic=True)
        with self._lock:
            self._connections.append(conn)
        self._local.held = (conn, inode)
        return conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def token(self) -> Token:
        """Changes whenever the file's content may have changed (see the module doc)."""
        try:
            stat = os.stat(self.path)
            with open(self.path, "rb") as file:
                counter = file.read(100)[_HEADER_COUNTER]
        except FileNotFoundError:
            raise _missing() from None
        try:
            with open(f"{self.path}-shm", "rb") as file:
                wal_index = file.read(_WAL_INDEX_HEADER_BYTES)
        except FileNotFoundError:
            wal_index = b""
        return (self._generation, stat.st_ino, stat.st_mtime_ns, stat.st_size, counter, wal_index)

    def changed(self) -> None:
        """Call after this process committed a write."""
        with self._lock:
            self._generation += 1

    def schema(self, conn: sqlite3.Connection, token: Token) -> Schema:
        """The tables and columns, re-read only when the token changed."""
        cached = self._schema
        if cached is not None and cached[0] == token:
            return cached[1]
        schema = read_schema(conn)
        self._schema = (token, schema)
        return schema

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


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
