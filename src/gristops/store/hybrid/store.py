"""HybridStore: beside a running Grist server, read its live `.grist` files and write through it.

Reads (tables, columns, records, lookups) run on the embedded store's read
path over `grist.docs_dir`, with every file opened read-only: SQLite's shared
locks make a read wait while Grist commits and never see half a write. Writes
go through Grist's REST API (the Grist-server store), so Grist's data engine
applies them, recomputes formulas and shows them in its UI. Grist commits a
write to its file before it answers, so a read after a write sees it.

A document whose file is missing or unreadable (not in docs_dir, a hot
journal a read-only connection cannot roll back, a corrupt file, a lock held
past the busy timeout) is read through Grist's REST API instead, counted in
`gristops_store_fallbacks_total` and logged when it starts and when it ends.
Grist's `_grist_*` metadata tables are read through Grist too: the file
store serves user tables only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gristops.config.model import GristSection
from gristops.errors import NotFound, Unavailable
from gristops.store.base import JSON, Record, RecordQuery, Store, UpsertOptions, UpsertResult
from gristops.store.file.store import GristFileStore
from gristops.store.location import existing_document
from gristops.store.metrics import StoreMetrics
from gristops.store.rows import RowCondition
from gristops.store.server.store import GristServerStore

T = TypeVar("T")
Read = Callable[[Store], Awaitable[T]]

log = logging.getLogger(__name__)

METADATA_PREFIX = "_grist_"


class HybridStore:
    """Reads from Grist's files in `settings.docs_dir`, writes through `settings.base_url`."""

    def __init__(
        self, settings: GristSection, api_key: str, metrics: StoreMetrics | None = None
    ) -> None:
        if settings.docs_dir is None:
            raise ValueError("HybridStore needs grist.docs_dir")
        self.docs_dir = Path(settings.docs_dir)
        self.files = GristFileStore(self.docs_dir, metrics=metrics, read_only=True)
        self.server = GristServerStore(settings, api_key, metrics=metrics)
        self._metrics = metrics
        # Documents read through REST right now, and why: logged once per change.
        self._falling_back: dict[str, str] = {}

    def _file_present(self, doc_id: str) -> bool:
        try:
            existing_document(self.docs_dir, doc_id)
        except NotFound:
            return False
        return True

    async def _read(self, operation: str, doc_id: str, table_id: str | None, read: Read[T]) -> T:
        """`read` on the file store, or on Grist when the file cannot serve it."""
        if table_id is not None and table_id.startswith(METADATA_PREFIX):
            return await read(self.server)
        if self._file_present(doc_id):
            try:
                answer = await read(self.files)
            except Unavailable as exc:
                reason, detail = "unreadable", exc.message
            except NotFound:
                if self._file_present(doc_id):
                    raise  # a table, column or row that is not there: Grist would say the same
                reason, detail = "missing", "the file disappeared"
            else:
                self._recovered(doc_id)
                return answer
        else:
            reason, detail = "missing", f"no file {doc_id}.grist in {self.docs_dir}"
        self._fell_back(operation, doc_id, reason, detail)
        return await read(self.server)

    def _fell_back(self, operation: str, doc_id: str, reason: str, detail: str) -> None:
        if self._metrics is not None:
            self._metrics.fallbacks.labels(operation=operation, reason=reason).inc()
        if self._falling_back.get(doc_id) != reason:
            self._falling_back[doc_id] = reason
            log.warning(
                "document %s: file %s (%s); reading it through Grist's REST API "
                "until the file can be read (check grist.docs_dir)",
                doc_id,
                reason,
                detail,
            )

    def _recovered(self, doc_id: str) -> None:
        if self._falling_back and self._falling_back.pop(doc_id, None) is not None:
            log.info("document %s: reading its file again", doc_id)

    # -- reading: the live file -------------------------------------------------

    async def list_tables(self, doc_id: str) -> list[Record]:
        return await self._read("list_tables", doc_id, None, lambda s: s.list_tables(doc_id))

    async def list_columns(self, doc_id: str, table_id: str, hidden: bool = False) -> list[Record]:
        return await self._read(
            "list_columns", doc_id, table_id, lambda s: s.list_columns(doc_id, table_id, hidden)
        )

    async def fetch_records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        return await self._read(
            "fetch_records", doc_id, table_id, lambda s: s.fetch_records(doc_id, table_id, query)
        )

    async def fetch_record(
        self,
        doc_id: str,
        table_id: str,
        row_id: int,
        hidden: bool = False,
        rows: RowCondition | None = None,
    ) -> Record:
        return await self._read(
            "fetch_record",
            doc_id,
            table_id,
            lambda s: s.fetch_record(doc_id, table_id, row_id, hidden, rows),
        )

    async def find_records(
        self, doc_id: str, table_id: str, column: str, value: str, casefold: bool = True
    ) -> list[Record]:
        return await self._read(
            "find_records",
            doc_id,
            table_id,
            lambda s: s.find_records(doc_id, table_id, column, value, casefold),
        )

    async def version(self, doc_id: str) -> str | None:
        """The file's change token, which Grist's every commit bumps; None while the
        document is read through REST (then answers are not cached)."""
        if not self._file_present(doc_id):
            return None
        try:
            return await self.files.version(doc_id)
        except (NotFound, Unavailable):
            return None

    async def ping(self, doc_id: str) -> None:
        """Both halves: Grist must answer (writes) and the document must be readable."""
        await self.server.ping(doc_id)
        await self._read("ping", doc_id, None, lambda s: s.ping(doc_id))

    # -- writing: Grist's REST API ----------------------------------------------

    async def add_records(
        self, doc_id: str, table_id: str, records: list[dict[str, JSON]]
    ) -> list[int]:
        return await self.server.add_records(doc_id, table_id, records)

    async def update_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        rows: RowCondition | None = None,
    ) -> None:
        await self.server.update_records(doc_id, table_id, records, rows)

    async def upsert_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        options: UpsertOptions,
        rows: RowCondition | None = None,
    ) -> UpsertResult:
        return await self.server.upsert_records(doc_id, table_id, records, options, rows)

    async def delete_records(
        self, doc_id: str, table_id: str, row_ids: list[int], rows: RowCondition | None = None
    ) -> None:
        await self.server.delete_records(doc_id, table_id, row_ids, rows)

    async def aclose(self) -> None:
        await self.files.aclose()
        await self.server.aclose()
