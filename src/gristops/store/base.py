"""The Store protocol: the only path from the gateway and the ops verbs to data.

Every method speaks Grist's REST JSON shapes, so the gateway can pass answers
through unchanged:

- a table:   {"id": "Products", "fields": {"tableRef": 3, "onDemand": false, ...}}
- a column:  {"id": "price", "fields": {"colRef": 14, "type": "Numeric", ...}}
- a record:  {"id": 1, "fields": {"name": "Apple", ...}} (+ "errors" when a formula raised)

Cell values are in Grist's API encoding ("normal" cellFormat: lists as
["L", ...], dates as epoch seconds; "typed" adds ["d", ...], ["R", ...] etc).
Stores raise `gristops.errors` exceptions whose messages follow Grist's
(`Table not found "X"`, `Invalid column "x"`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from gristops.store.rows import RowCondition

JSON = Any
Record = dict[str, Any]
CellFormat = Literal["normal", "typed"]
OnMany = Literal["first", "none", "all"]


@dataclass(frozen=True)
class SortKey:
    """One key of a Grist `sort` spec: `-price:emptyLast` is SortKey("price", True, ("emptyLast",))."""

    column: str
    descending: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordQuery:
    """What to read: Grist's filter / sort / limit / hidden / cellFormat, plus `offset`.

    `filter` maps column ids to the values a cell may equal (Grist semantics:
    ANDed across columns, exact match). `limit` None or 0 means no limit; a
    negative limit is refused before it gets here. `offset` skips rows after
    sorting (a gristops extension for paging). `rows` is the caller's access
    rule: rows outside it do not exist for this query, so filter, sort, limit
    and offset apply to the rows inside it only.
    """

    filter: dict[str, list[JSON]] | None = None
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    hidden: bool = False
    cell_format: CellFormat = "normal"
    rows: RowCondition | None = None


@dataclass(frozen=True)
class UpsertOptions:
    """Query options of `PUT /records`."""

    noadd: bool = False
    noupdate: bool = False
    onmany: OnMany = "first"
    allow_empty_require: bool = False


@dataclass(frozen=True)
class UpsertResult:
    """Grist's answer to PUT /records: `recordIds` and `updateRecordIds` hold one
    list per request record (several ids with onmany=all, none with noadd/noupdate)."""

    record_ids: list[list[int]] = field(default_factory=list)
    add_record_ids: list[int] = field(default_factory=list)
    update_record_ids: list[list[int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "recordIds": self.record_ids,
            "addRecordIds": self.add_record_ids,
            "updateRecordIds": self.update_record_ids,
        }


@runtime_checkable
class Store(Protocol):
    """Grist-shaped access to documents. All methods are async and safe to call concurrently."""

    async def list_tables(self, doc_id: str) -> list[Record]:
        """Tables of a document (404 NotFound `document not found` when absent)."""
        ...

    async def list_columns(self, doc_id: str, table_id: str, hidden: bool = False) -> list[Record]:
        """Columns of a table; `manualSort` and `gristHelper_*` only when hidden."""
        ...

    async def fetch_records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        """Records matching the query, in Grist's order."""
        ...

    async def fetch_record(
        self,
        doc_id: str,
        table_id: str,
        row_id: int,
        hidden: bool = False,
        rows: RowCondition | None = None,
    ) -> Record:
        """One record by id (NotFound when absent or outside `rows`)."""
        ...

    async def find_records(
        self, doc_id: str, table_id: str, column: str, value: str, casefold: bool = True
    ) -> list[Record]:
        """Records whose text `column` equals `value` (case-insensitively when casefold).

        Used for logins: the users table is looked up, never downloaded.
        Returns hidden columns too; the caller decides what leaves the gateway.
        """
        ...

    async def add_records(
        self, doc_id: str, table_id: str, records: list[dict[str, JSON]]
    ) -> list[int]:
        """Add rows (each a fields mapping); returns their new ids. One transaction."""
        ...

    async def update_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        rows: RowCondition | None = None,
    ) -> None:
        """Update rows given as {"id", "fields"}; all must exist. One transaction.

        With `rows`: Forbidden, nothing written, when a row is not inside it
        before the update, or would not be after."""
        ...

    async def upsert_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        options: UpsertOptions,
        rows: RowCondition | None = None,
    ) -> UpsertResult:
        """Grist's PUT /records: each record has "require" and optional "fields".

        With `rows`: Forbidden, nothing written, when a matched row is outside
        it or a row added or updated would not be inside it."""
        ...

    async def delete_records(
        self, doc_id: str, table_id: str, row_ids: list[int], rows: RowCondition | None = None
    ) -> None:
        """Delete rows; unknown ids are ignored; references to them become 0.

        With `rows`: Forbidden, nothing deleted, when an id is not a row inside it."""
        ...

    async def ping(self, doc_id: str) -> None:
        """Raise Unavailable (or NotFound) when the document cannot be reached."""
        ...

    async def version(self, doc_id: str) -> str | None:
        """A string that changes whenever the document may have changed, through any path
        (this gateway, another process, a restore); None when the store cannot tell, so
        answers must not be cached. Cheap: called before every cacheable read."""
        ...

    async def aclose(self) -> None:
        """Release connections and pools."""
        ...
