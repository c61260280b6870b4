"""Reading records from a document file, inside a read transaction.

Only the rows an answer returns are decoded: a sorted query first reads the
row ids and the sort columns, orders them (or takes the order from the
cache), and then reads the full rows of the requested page alone.

With `inline=True` (the event loop's fast path) a read refuses slow work by
raising NeedsWorker, and the store runs it again in a worker thread: building
a sort order that is not cached (text collation keys take ~100 ms on 10,000
rows), or decoding more than INLINE_CELLS cells.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from gristops.errors import BadRequest, NotFound
from gristops.store.base import Record, RecordQuery
from gristops.store.file.cells import RowDecoder
from gristops.store.file.docfile import NeedsWorker, OrderCache, Token
from gristops.store.file.query import condition_sql, order, sort_columns, where_sql
from gristops.store.metadata import Column, Table, quote
from gristops.store.rows import RowCondition

# About 2.5 ms of decoding: less than a GIL switch interval (5 ms) of the event loop.
INLINE_CELLS = 8000


def _row_budget(columns: tuple[Column, ...]) -> int:
    return max(1, INLINE_CELLS // (len(columns) + 1))


def _rows(cursor: sqlite3.Cursor, budget: int | None) -> list[Any]:
    """All rows of `cursor`, or NeedsWorker when there are more than `budget` (if given)."""
    if budget is None:
        return cursor.fetchall()
    rows = cursor.fetchmany(budget + 1)
    if len(rows) > budget:
        raise NeedsWorker
    return rows


def _select(columns: tuple[Column, ...]) -> str:
    return ", ".join(["id", *(quote(c.col_id) for c in columns)])


def _check_paging(query: RecordQuery) -> None:
    if query.limit is not None and query.limit < 0:
        raise BadRequest("limit must not be negative", "use limit=0 (or none) for all rows")
    if query.offset < 0:
        raise BadRequest("offset must not be negative", "offset counts rows to skip")


def fetch(
    conn: sqlite3.Connection,
    table: Table,
    query: RecordQuery,
    orders: OrderCache,
    token: Token,
    *,
    inline: bool = False,
) -> list[Record]:
    """Records of `table` matching `query`, in Grist's order (see the module doc for `inline`)."""
    _check_paging(query)
    where, params = where_sql(table, query.filter, query.rows)
    columns = table.shown(query.hidden)
    decoder = RowDecoder(columns, query.cell_format == "typed")
    source = quote(table.table_id)
    budget = _row_budget(columns) if inline else None
    if not query.sort:
        cursor = conn.execute(
            f"SELECT {_select(columns)} FROM {source} WHERE {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608 - ids from the schema
            [*params, query.limit or -1, query.offset],
        )
        return [decoder.record(row) for row in _rows(cursor, budget)]

    sort = sort_columns(table, query.sort)
    cache_key = (
        table.table_id,
        json.dumps(query.filter, sort_keys=True, default=str),
        tuple((k.column, k.descending, k.flags) for k in query.sort),
        repr(query.rows),
    )
    ids = orders.get(cache_key, token)
    if ids is None:
        if inline:
            raise NeedsWorker
        keys = ", ".join(["id", "manualSort", *(quote(s.col_id) for s in sort)])
        sql = f"SELECT {keys} FROM {source} WHERE {where}"  # noqa: S608 - ids from the schema
        light: list[Any] = conn.execute(sql, params).fetchall()
        ids = order(light, sort)
        orders.put(cache_key, token, ids)
    end = query.offset + query.limit if query.limit else None
    page = ids[query.offset : end]
    if not page:
        return []
    if budget is not None and len(page) > budget:
        raise NeedsWorker
    rows = conn.execute(
        f"SELECT {_select(columns)} FROM {source} WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608 - ids from the schema
        (json.dumps(page),),
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    return [decoder.record(by_id[i]) for i in page if i in by_id]


def fetch_one(
    conn: sqlite3.Connection,
    table: Table,
    row_id: int,
    hidden: bool,
    rows: RowCondition | None = None,
) -> Record:
    """One record; NotFound when it is absent or outside `rows` (the same answer)."""
    columns = table.shown(hidden)
    rule, params = condition_sql(table, rows)
    row = conn.execute(
        f"SELECT {_select(columns)} FROM {quote(table.table_id)} WHERE id = ? AND {rule}",  # noqa: S608
        (row_id, *params),
    ).fetchone()
    if row is None:
        raise NotFound(
            f'Record {row_id} not found in table "{table.table_id}"',
            "list the table's records to see which ids exist",
        )
    return RowDecoder(columns, typed=False).record(row)


def find(
    conn: sqlite3.Connection,
    table: Table,
    column_id: str,
    value: str,
    casefold: bool,
    *,
    inline: bool = False,
) -> list[Record]:
    """Rows whose `column_id` equals `value` (case-insensitively when casefold), hidden included."""
    column = table.column(column_id)
    if column is None:
        raise BadRequest(
            f'Invalid column "{column_id}"', f'table "{table.table_id}" has no such column'
        )
    name = quote(column.col_id)
    condition = f"gristops_casefold({name}) = ?" if casefold else f"+{name} = ?"
    cursor = conn.execute(
        f"SELECT {_select(table.columns)} FROM {quote(table.table_id)} "  # noqa: S608 - ids from the schema
        f"WHERE {condition} ORDER BY id",
        (value.casefold() if casefold else value,),
    )
    rows = _rows(cursor, _row_budget(table.columns) if inline else None)
    decoder = RowDecoder(table.columns, typed=False)
    return [decoder.record(row) for row in rows]
