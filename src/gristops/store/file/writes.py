"""Writing records to a document file (runs in a worker thread, inside one write transaction).

Grist's record semantics without its formula engine: new rows get the next
id (max + 1) and manualSort = id; a column absent from every record of a
request gets the type's default (SQL DEFAULT, as Grist declares it), one
given for some records only gets null in the others; formula columns are not
writable and are not recomputed; deleting rows resets references to them
(Ref -> 0, ids removed from RefLists).

With a row condition (the caller's access rule) a write refuses, as a whole,
to touch a row outside it, or to leave a row it wrote outside it: the rows are
checked in SQL inside the same transaction, before and after, so a refused
write leaves nothing behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gristops.errors import BadRequest, Forbidden
from gristops.store.base import JSON, Record, UpsertOptions, UpsertResult
from gristops.store.file.cells import json_list
from gristops.store.file.convert import Converter
from gristops.store.file.query import condition_sql
from gristops.store.metadata import Column, Schema, Table, quote
from gristops.store.rows import RowCondition

ID = "id"


def _columns(table: Table, names: Iterable[str], allow_id: bool = False) -> list[Column]:
    """The writable columns named by a request, in request order; Grist's errors otherwise."""
    columns: list[Column] = []
    for name in names:
        column = table.column(name)
        if column is None:
            if allow_id and name == ID:
                continue
            raise BadRequest(
                f'Invalid column "{name}"', f'table "{table.table_id}" has no such column'
            )
        if column.is_formula:
            raise BadRequest(
                "Error manipulating data: [Sandbox] ValueError "
                f"Can't save value to formula column {name}",
                "formula columns are computed by Grist; leave them out of writes",
            )
        columns.append(column)
    return columns


def _names(records: Iterable[Mapping[str, JSON]]) -> list[str]:
    seen: dict[str, None] = {}
    for fields in records:
        seen.update(dict.fromkeys(fields))
    return list(seen)


def _next_id(conn: sqlite3.Connection, table: Table) -> int:
    row = conn.execute(f"SELECT max(id) FROM {quote(table.table_id)}").fetchone()  # noqa: S608 - ids from the schema
    return int(row[0] or 0) + 1


def add(
    conn: sqlite3.Connection, schema: Schema, table: Table, records: Sequence[Mapping[str, JSON]]
) -> list[int]:
    """Insert rows; returns their ids."""
    columns = _columns(table, _names(records))
    convert = Converter(conn, schema)
    start = _next_id(conn, table)
    ids = list(range(start, start + len(records)))
    rows = [
        [row_id, row_id, *(convert.value(c, fields.get(c.col_id)) for c in columns)]
        for row_id, fields in zip(ids, records, strict=True)
    ]
    names = ", ".join(["id", "manualSort", *(quote(c.col_id) for c in columns)])
    marks = ", ".join("?" * (len(columns) + 2))
    conn.executemany(f"INSERT INTO {quote(table.table_id)} ({names}) VALUES ({marks})", rows)  # noqa: S608 - ids from the schema
    return ids


def _existing(conn: sqlite3.Connection, table: Table, row_ids: Iterable[int]) -> set[int]:
    found = conn.execute(
        f"SELECT id FROM {quote(table.table_id)} WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608 - ids from the schema
        (json.dumps(list(row_ids)),),
    ).fetchall()
    return {row[0] for row in found}


def _require_inside(
    conn: sqlite3.Connection,
    table: Table,
    row_ids: Sequence[int],
    rows: RowCondition | None,
    after: bool = False,
) -> None:
    """Forbidden naming the first id that is not a row inside `rows` (absent rows count too)."""
    if rows is None or not row_ids:
        return
    rule, params = condition_sql(table, rows)
    found = conn.execute(
        f"SELECT id FROM {quote(table.table_id)} "  # noqa: S608 - ids from the schema
        f"WHERE id IN (SELECT value FROM json_each(?)) AND {rule}",
        (json.dumps(list(row_ids)), *params),
    ).fetchall()
    inside = {row[0] for row in found}
    for row_id in row_ids:
        if row_id not in inside:
            what = "would leave" if after else "is not among"
            raise Forbidden(
                f'row {row_id} {what} the rows of "{table.table_id}" you may change',
                "your role's access rule limits which rows you see and change",
            )


def _set(
    conn: sqlite3.Connection,
    convert: Converter,
    table: Table,
    row_ids: list[int],
    fields: Mapping[str, JSON],
) -> None:
    columns = _columns(table, fields)
    if not columns or not row_ids:
        return
    assignments = ", ".join(f"{quote(c.col_id)} = ?" for c in columns)
    values = [convert.value(c, fields[c.col_id]) for c in columns]
    conn.executemany(
        f"UPDATE {quote(table.table_id)} SET {assignments} WHERE id = ?",  # noqa: S608 - ids from the schema
        [[*values, row_id] for row_id in row_ids],
    )


def update(
    conn: sqlite3.Connection,
    schema: Schema,
    table: Table,
    records: list[Record],
    rows: RowCondition | None = None,
) -> None:
    """Update rows given as {"id", "fields"}; every id must exist (and be inside `rows`)."""
    _columns(table, _names(r["fields"] for r in records))
    row_ids = [r["id"] for r in records]
    _require_inside(conn, table, row_ids, rows)
    existing = _existing(conn, table, (r["id"] for r in records))
    for record in records:
        if record["id"] not in existing:
            raise BadRequest(
                f"Invalid row id {record['id']}", "list the table's records to see which ids exist"
            )
    convert = Converter(conn, schema)
    for record in records:
        _set(conn, convert, table, [record["id"]], record["fields"])
    _require_inside(conn, table, row_ids, rows, after=True)


def _matches(
    conn: sqlite3.Connection, convert: Converter, table: Table, require: Mapping[str, JSON]
) -> list[int]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, raw in require.items():
        if name == ID:
            clauses.append("id = ?")
            params.append(raw)
            continue
        column = _columns(table, [name])[0]
        value = convert.value(column, raw)
        if value is None:
            clauses.append(f"{quote(name)} IS NULL")
        else:
            clauses.append(f"+{quote(name)} = ?")
            params.append(value)
    where = " AND ".join(clauses) or "1"
    rows = conn.execute(
        f"SELECT id FROM {quote(table.table_id)} WHERE {where} ORDER BY id",  # noqa: S608
        params,
    ).fetchall()
    return [row[0] for row in rows]


def upsert(
    conn: sqlite3.Connection,
    schema: Schema,
    table: Table,
    records: list[Record],
    options: UpsertOptions,
    rows: RowCondition | None = None,
) -> UpsertResult:
    """Grist's BulkAddOrUpdateRecord: update the rows matching `require`, else add one.

    With `rows`, every row it matches must be inside, and so must every row it writes."""
    for record in records:
        _columns(table, record["require"], allow_id=True)
        _columns(table, record.get("fields") or {})
        if not record["require"] and not options.allow_empty_require:
            raise BadRequest(
                "Error manipulating data: [Sandbox] ValueError "
                "require is empty but allow_empty_require isn't set",
                "give require some columns, or pass allow_empty_require=true",
            )
    convert = Converter(conn, schema)
    record_ids: list[list[int]] = []
    added: list[int] = []
    updated: list[list[int]] = []
    for record in records:
        require: Mapping[str, JSON] = record["require"]
        fields: Mapping[str, JSON] = record.get("fields") or {}
        matches = _matches(conn, convert, table, require)
        if matches:
            chosen = [] if options.noupdate else _pick(matches, options)
            _require_inside(conn, table, chosen, rows)
            _set(conn, convert, table, chosen, fields)
            record_ids.append(chosen)
            if chosen:
                updated.append(chosen)
        elif options.noadd:
            record_ids.append([])
        else:
            values = {**fields, **{k: v for k, v in require.items() if k != ID}}
            new_id = add(conn, schema, table, [values])[0]
            record_ids.append([new_id])
            added.append(new_id)
    _require_inside(conn, table, sorted({i for ids in record_ids for i in ids}), rows, after=True)
    return UpsertResult(record_ids=record_ids, add_record_ids=added, update_record_ids=updated)


def _pick(matches: list[int], options: UpsertOptions) -> list[int]:
    if len(matches) == 1 or options.onmany == "all":
        return matches
    return matches[:1] if options.onmany == "first" else []


def delete(
    conn: sqlite3.Connection,
    schema: Schema,
    table: Table,
    row_ids: list[int],
    rows: RowCondition | None = None,
) -> None:
    """Delete the rows that exist and reset references to them in every table.

    With `rows`, every id must be a row inside it (an absent one too: nothing tells them apart)."""
    _require_inside(conn, table, row_ids, rows)
    gone = sorted(_existing(conn, table, row_ids))
    if not gone:
        return
    gone_json = json.dumps(gone)
    conn.execute(
        f"DELETE FROM {quote(table.table_id)} WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608 - ids from the schema
        (gone_json,),
    )
    gone_set = set(gone)
    for other in schema.tables.values():
        for column in other.columns:
            if column.type_arg != table.table_id:
                continue
            name, source = quote(column.col_id), quote(other.table_id)
            if column.base_type == "Ref":
                conn.execute(
                    f"UPDATE {source} SET {name} = 0 "  # noqa: S608 - ids from the schema
                    f"WHERE +{name} IN (SELECT value FROM json_each(?))",
                    (gone_json,),
                )
            elif column.base_type == "RefList":
                _prune_ref_lists(conn, source, name, gone_set)


def _prune_ref_lists(conn: sqlite3.Connection, source: str, name: str, gone: set[int]) -> None:
    rows = conn.execute(
        f"SELECT id, {name} FROM {source} WHERE typeof({name}) = 'text'"  # noqa: S608 - ids from the schema
    ).fetchall()
    changes = []
    for row_id, raw in rows:
        items = json_list(raw)
        if items is None or not gone.intersection(i for i in items if type(i) is int):
            continue
        kept = [i for i in items if i not in gone]
        changes.append((json.dumps(kept, separators=(",", ":")) if kept else None, row_id))
    conn.executemany(f"UPDATE {source} SET {name} = ? WHERE id = ?", changes)  # noqa: S608 - ids from the schema
