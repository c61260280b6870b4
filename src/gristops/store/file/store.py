"""GristFileStore: the Store protocol served from `.grist` files (Grist's own SQLite format).

`docs_dir/<docId>.grist` is the document `docId`. Writes run on a small
thread pool owned by the store, off the event loop; each thread keeps its own
connection per document (see docfile.py for locking, journal modes and change
detection). Reads run in one read transaction, writes in one `BEGIN IMMEDIATE`
transaction per request: a request that fails writes nothing.

Reads first try a fast path on the event loop itself: a typical read costs
less than handing it to a thread (the hop and the GIL hand-off dominate). The
fast path only runs what cannot wait and is cheap: its connection never waits
for a lock, and it uses the cached schema and sort orders only; anything else
(a lock held by a writer, a cache emptied by a write, a large answer) raises
NeedsWorker and the read runs again on the read pool, which waits and builds.

Answers follow the recorded behaviour of Grist 1.7.17 (tests/fixtures/grist).
Deliberate differences (also listed in docs/gateway.md):
- There is no formula engine: formula columns are served as Grist last
  stored them; rows written here keep the column type's empty value there.
- Values that do not fit a column's type are refused with 400 where Grist
  would store them as text (see convert.py).
- An unknown sort column is a 400 naming `sort` (Grist: 500 `unknown key`);
  unknown sort flags are a 400 too (Grist ignores or 500s them).
- A negative `limit` is refused (Grist drops that many rows from the end);
  `offset` skips rows after sorting (a gristops extension).
- Only user tables are served: Grist's `_grist_*` metadata tables answer 404.

Access rules: a read with a row condition on a column no index leads is
answered (by a full scan), and an index `gristops_rule_<table>_<column>` is
then created in the background through the write pool, so the next reads of
one user's rows look them up instead of scanning the table. Grist keeps or
drops such an index like any other (a column removal rebuilds the table).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gristops.errors import GristopsError, StorageFull, Unavailable, disk_full
from gristops.store.base import JSON, Record, RecordQuery, UpsertOptions, UpsertResult
from gristops.store.file import reads, writes
from gristops.store.file.docfile import DocFile, NeedsWorker, OrderCache, Token, reading, writing
from gristops.store.file.query import unindexed
from gristops.store.location import existing_document
from gristops.store.metadata import Schema, quote
from gristops.store.metrics import StoreMetrics, measure_store
from gristops.store.rows import RowCondition

T = TypeVar("T")
log = logging.getLogger(__name__)

# Few threads: the work is mostly Python (GIL-bound), and more threads only add
# contention. Writes have their own pool, so a write waiting for a lock held by
# another process never holds up reads.
REPLACED_RETRIES = 3
READ_THREADS = 2
WRITE_THREADS = 2


@dataclass(frozen=True)
class Snapshot:
    """What a read sees: a connection inside a read transaction, and the schema then.

    `inline` is set on the event loop's fast path: the read must refuse slow work.
    """

    conn: sqlite3.Connection
    schema: Schema
    token: Token
    orders: OrderCache
    inline: bool


class GristFileStore:
    """Documents as `.grist` files in one directory. Safe for concurrent use.

    `read_only=True` opens every file read-only (the hybrid store's reads of
    files a Grist server owns); its write methods then fail.
    """

    def __init__(
        self,
        docs_dir: Path,
        metrics: StoreMetrics | None = None,
        *,
        read_threads: int = READ_THREADS,
        write_threads: int = WRITE_THREADS,
        read_only: bool = False,
    ) -> None:
        self.docs_dir = Path(docs_dir)
        self._read_only = read_only
        # Resolved once: documents are looked up as plain names directly inside it.
        self._root = self.docs_dir.resolve()
        self._metrics = metrics
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="gristfile-read")
        self._writers = ThreadPoolExecutor(write_threads, thread_name_prefix="gristfile-write")
        self._docs: dict[str, DocFile] = {}
        self._lock = threading.Lock()
        self._indexing: dict[tuple[str, str, str], asyncio.Task[None]] = {}

    # -- plumbing -------------------------------------------------------------

    def _doc(self, doc_id: str) -> DocFile:
        """The document file of `doc_id`; only plain ids inside docs_dir are accepted."""
        # A symlink is refused: it could point out of the folder.
        path = existing_document(self._root, doc_id)
        doc = self._docs.get(doc_id)
        if doc is None:
            with self._lock:
                doc = self._docs.setdefault(doc_id, DocFile(path, read_only=self._read_only))
        return doc

    def _measure(self, operation: str) -> AbstractContextManager[None]:
        return measure_store(self._metrics, "file", operation)

    def _call(self, doc_id: str, work: Callable[[DocFile], T]) -> T:
        """`work` on the document, with SQLite failures turned into gristops errors."""
        try:
            return work(self._doc(doc_id))
        except sqlite3.OperationalError as exc:
            raise _unavailable(doc_id, exc) from exc
        except sqlite3.DatabaseError as exc:
            raise Unavailable(
                f"document {doc_id} cannot be read: {exc}",
                "the file is not a valid .grist document; restore it from a backup",
            ) from exc

    async def _read(self, operation: str, doc_id: str, work: Callable[[Snapshot], T]) -> T:
        """`work` on a snapshot: on the event loop when it is cheap, else on the read pool."""
        with self._measure(operation):
            # An inline read never yields: give the other ready connections their turn first,
            # or under heavy load some wait for seconds (measured: p95 4.4 s -> 0.65 s at 100).
            await asyncio.sleep(0)
            try:
                return self._call(doc_id, _reading(work, inline=True))
            except NeedsWorker:
                pass  # not cheap right now: the pool waits for locks and builds caches
            loop = asyncio.get_running_loop()
            job = _reading(work, inline=False)
            return await loop.run_in_executor(self._readers, self._call, doc_id, job)

    async def _write(
        self, operation: str, doc_id: str, work: Callable[[sqlite3.Connection, Schema], T]
    ) -> T:
        with self._measure(operation):
            loop = asyncio.get_running_loop()
            job = _writing(work)
            return await loop.run_in_executor(self._writers, self._call, doc_id, job)

    # -- reading ----------------------------------------------------------------

    async def list_tables(self, doc_id: str) -> list[Record]:
        def work(snap: Snapshot) -> list[Record]:
            return [table.to_json() for table in snap.schema.tables.values()]

        return await self._read("list_tables", doc_id, work)

    async def list_columns(self, doc_id: str, table_id: str, hidden: bool = False) -> list[Record]:
        def work(snap: Snapshot) -> list[Record]:
            return [column.to_json() for column in snap.schema.table(table_id).shown(hidden)]

        return await self._read("list_columns", doc_id, work)

    async def fetch_records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        def work(snap: Snapshot) -> tuple[list[Record], list[str]]:
            table = snap.schema.table(table_id)
            found = reads.fetch(
                snap.conn, table, query, snap.orders, snap.token, inline=snap.inline
            )
            return found, unindexed(table, query.rows)

        records, missing = await self._read("fetch_records", doc_id, work)
        self._index_later(doc_id, table_id, missing)
        return records

    def _index_later(self, doc_id: str, table_id: str, col_ids: list[str]) -> None:
        """Index the columns a row condition reads, in the background (see the module doc)."""
        if self._read_only:  # a Grist server's live file: only Grist writes it
            return
        for col_id in col_ids:
            key = (doc_id, table_id, col_id)
            if key not in self._indexing:
                self._indexing[key] = asyncio.create_task(self._index(*key))

    async def _index(self, doc_id: str, table_id: str, col_id: str) -> None:
        def work(conn: sqlite3.Connection, schema: Schema) -> None:
            table = schema.table(table_id)
            if table.column(col_id) is not None:
                name = quote(f"gristops_rule_{table_id}_{col_id}")
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table_id)} ({quote(col_id)})"
                )

        try:
            await self._write("create_index", doc_id, work)
        except GristopsError as exc:
            # Reads stay right without it, only slower; not retried until the next start.
            log.warning("index of %s.%s in %s not created: %s", table_id, col_id, doc_id, exc)
        else:
            self._indexing.pop((doc_id, table_id, col_id), None)

    async def fetch_record(
        self,
        doc_id: str,
        table_id: str,
        row_id: int,
        hidden: bool = False,
        rows: RowCondition | None = None,
    ) -> Record:
        def work(snap: Snapshot) -> Record:
            return reads.fetch_one(snap.conn, snap.schema.table(table_id), row_id, hidden, rows)

        return await self._read("fetch_record", doc_id, work)

    async def find_records(
        self, doc_id: str, table_id: str, column: str, value: str, casefold: bool = True
    ) -> list[Record]:
        def work(snap: Snapshot) -> list[Record]:
            table = snap.schema.table(table_id)
            return reads.find(snap.conn, table, column, value, casefold, inline=snap.inline)

        return await self._read("find_records", doc_id, work)

    async def ping(self, doc_id: str) -> None:
        def work(snap: Snapshot) -> None:
            snap.conn.execute("SELECT count(*) FROM _grist_Tables").fetchone()

        await self._read("ping", doc_id, work)

    async def version(self, doc_id: str) -> str:
        # The change token: bumped by every commit of any process (the header's change
        # counter, or the WAL index in WAL mode) and by a restore (a new inode). A stat and
        # a 28-byte read, cheap enough for the event loop. Without this process's own write
        # counter (the token's first item), so every worker gives the same version.
        return repr(self._doc(doc_id).token()[1:])

    # -- writing ----------------------------------------------------------------

    async def add_records(
        self, doc_id: str, table_id: str, records: list[dict[str, JSON]]
    ) -> list[int]:
        def work(conn: sqlite3.Connection, schema: Schema) -> list[int]:
            return writes.add(conn, schema, schema.table(table_id), records)

        return await self._write("add_records", doc_id, work)

    async def update_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        rows: RowCondition | None = None,
    ) -> None:
        def work(conn: sqlite3.Connection, schema: Schema) -> None:
            writes.update(conn, schema, schema.table(table_id), records, rows)

        await self._write("update_records", doc_id, work)

    async def upsert_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        options: UpsertOptions,
        rows: RowCondition | None = None,
    ) -> UpsertResult:
        def work(conn: sqlite3.Connection, schema: Schema) -> UpsertResult:
            return writes.upsert(conn, schema, schema.table(table_id), records, options, rows)

        return await self._write("upsert_records", doc_id, work)

    async def delete_records(
        self, doc_id: str, table_id: str, row_ids: list[int], rows: RowCondition | None = None
    ) -> None:
        def work(conn: sqlite3.Connection, schema: Schema) -> None:
            writes.delete(conn, schema, schema.table(table_id), row_ids, rows)

        await self._write("delete_records", doc_id, work)

    async def aclose(self) -> None:
        """Wait for running work, then close every connection."""
        await asyncio.gather(*self._indexing.values(), return_exceptions=True)
        loop = asyncio.get_running_loop()
        for executor in (self._readers, self._writers):
            await loop.run_in_executor(None, executor.shutdown, True)
        with self._lock:
            docs, self._docs = list(self._docs.values()), {}
        for doc in docs:
            doc.close()


def _reading(work: Callable[[Snapshot], T], *, inline: bool) -> Callable[[DocFile], T]:
    """`work` in a read transaction; `inline` runs it on the event loop's fast path."""

    def run(doc: DocFile) -> T:
        # Taken before the transaction: cached results are never older than their token.
        token = doc.token()
        conn = doc.connection(token, wait=not inline)
        try:
            with reading(conn):
                schema = doc.schema(conn, token, cached=inline)
                return work(Snapshot(conn, schema, token, doc.orders, inline))
        except sqlite3.OperationalError as exc:
            if inline and _busy(exc):
                # A writer holds the lock: wait for it on a worker, never on the loop.
                raise NeedsWorker from exc
            raise

    return run


def _writing(work: Callable[[sqlite3.Connection, Schema], T]) -> Callable[[DocFile], T]:
    """`work` in one write transaction, after this process's other writes to the document."""

    def run(doc: DocFile) -> T:
        with doc.write_lock:
            for _ in range(REPLACED_RETRIES):
                token = doc.token()
                conn = doc.connection(token)
                try:
                    with writing(conn):
                        # A restore may have swapped the file while we waited for the lock:
                        # writing now would land in the old file, so start again on the new one.
                        if os.stat(doc.path).st_ino != token[1]:
                            raise _Replaced
                        return work(conn, doc.schema(conn, token))
                except _Replaced:
                    continue
                finally:
                    doc.changed()
            raise Unavailable(
                f"document {doc.path.stem} kept being replaced while writing",
                "a restore is in progress; retry in a moment",
            )

    return run


class _Replaced(Exception):
    """The document file was replaced between reading its token and locking it."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    code: int = getattr(exc, "sqlite_errorcode", 0)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _unavailable(doc_id: str, exc: sqlite3.OperationalError) -> GristopsError:
    text = str(exc)
    if disk_full(exc):
        return StorageFull(
            f"document {doc_id} was not changed: the disk is full ({text})",
            "free space under data_dir; the document is intact and writes resume by themselves",
        )
    if "locked" in text or "busy" in text:
        return Unavailable(
            f"document {doc_id} is busy", "another process holds a long write lock; retry shortly"
        )
    return Unavailable(f"document {doc_id} cannot be read: {text}", "check the file and its folder")
