"""Create a new Grist document (a `.grist` file) and add rows to its tables.

The file holds what grist-core 1.7 holds after the same tables were created
through its REST API (compare tests/fixtures/grist/docs/Shop.grist): per table
a `raw_data` view on its own page, a primary section, a raw data section and a
record card section, each with one field per visible column; a Ref column that
shows another column gets a hidden `gristHelper_Display` formula column.
Formula cells are stored empty (Grist computes them when it opens the
document), except the display helpers, filled here so that a store reading
the file directly serves the same values Grist would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gristops.errors import BadRequest, GristopsError, NotFound
from gristops.files import publish, sync_dir
from gristops.store.coltypes import ANY, MANUAL_SORT, ColumnType, encode_cell, parse_type
from gristops.store.metadata import quote
from gristops.store.newdoc.meta import DocMetadata
from gristops.store.newdoc.spec import HELPER_PREFIX, ColumnSpec, TableSpec, check_tables

SCHEMA_VERSION = 46
_USER_VERSION = 9  # grist-core's storage migrations applied to a current document
_DOCUMENT_SETTINGS = {"locale": "en-US", "engine": "python3"}

__all__ = ["ColumnSpec", "TableSpec", "create_document", "insert_rows"]


def create_document(
    path: Path, tables: Sequence[TableSpec], timezone: str = "UTC", *, overwrite: bool = False
) -> None:
    """Write a new document with these tables and their rows, atomically, mode 0600.

    Refuses to replace an existing file unless `overwrite`.
    """
    types = check_tables(tables)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"unknown time zone {timezone!r}", "use an IANA zone such as UTC"
        ) from None
    if not path.parent.is_dir():
        raise GristopsError(f"{path.parent}: no such directory", "create it first")
    if path.exists() and not overwrite:
        raise _exists(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
            conn.executescript(
                files("gristops.store.newdoc").joinpath("grist_schema.sql").read_text("utf-8")
            )
            conn.execute(f"PRAGMA user_version = {_USER_VERSION}")
            with _transaction(conn):
                _write_tables(conn, tables, types, timezone)
        _publish(tmp, path, overwrite)
    finally:
        tmp.unlink(missing_ok=True)


def insert_rows(path: Path, table_id: str, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Append rows (column id -> Python value) to a table of a document; returns their ids.

    One transaction: a row that does not fit leaves the document unchanged.
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=10)
    except sqlite3.OperationalError:
        raise NotFound(
            f"{path}: document not found", "check the path and the document id"
        ) from None
    with closing(conn):
        try:
            with _transaction(conn):
                return _insert(conn, table_id, rows)
        except sqlite3.DatabaseError as exc:
            raise GristopsError(
                f"{path}: not a readable Grist document ({exc})", "check that it is a .grist file"
            ) from None


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _write_tables(
    conn: sqlite3.Connection,
    tables: Sequence[TableSpec],
    types: Mapping[tuple[str, str], ColumnType],
    timezone: str,
) -> None:
    conn.execute(
        "INSERT INTO _grist_DocInfo (id, schemaVersion, timezone, documentSettings)"
        " VALUES (1, ?, ?, ?)",
        (SCHEMA_VERSION, timezone, json.dumps(_DOCUMENT_SETTINGS, separators=(",", ":"))),
    )
    meta = DocMetadata(conn)
    table_refs = {t.table_id: meta.add_table(t.table_id) for t in tables}
    sql_columns: dict[str, list[tuple[str, ColumnType]]] = {}
    for table in tables:
        ref = table_refs[table.table_id]
        meta.add_column(ref, "manualSort", str(MANUAL_SORT))
        sql_columns[table.table_id] = [("manualSort", MANUAL_SORT)]
        for col in table.columns:
            options = {"choices": list(col.choices), "choiceOptions": {}} if col.choices else None
            meta.add_column(
                ref,
                col.col_id,
                col.type,
                label=col.label,
                widget_options=options,
                formula=col.formula,
            )
            sql_columns[table.table_id].append((col.col_id, types[(table.table_id, col.col_id)]))
    # Helpers come after every table's columns, as when Grist adds them on demand.
    for table in tables:
        shown = [c for c in table.columns if c.visible_col is not None]
        for n, col in enumerate(shown, 1):
            helper = f"{HELPER_PREFIX}Display{n if n > 1 else ''}"
            meta.add_display_helper(table_refs[table.table_id], col, helper)
            sql_columns[table.table_id].append((helper, ANY))
    for table in tables:
        meta.add_views(table_refs[table.table_id], table.title or table.table_id, table.title)
        declarations = ", ".join(
            f"{quote(c)} {t.sql_declaration}" for c, t in sql_columns[table.table_id]
        )
        conn.execute(
            f"CREATE TABLE {quote(table.table_id)} (id INTEGER PRIMARY KEY, {declarations})"
        )
    for table in tables:
        _insert(conn, table.table_id, table.rows)


def _insert(
    conn: sqlite3.Connection, table_id: str, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    columns = DocMetadata(conn).columns(table_id)
    formulas = [c.col_id for c in columns if c.is_formula]
    writable = {c.col_id: c.type for c in columns if not c.is_formula and c.col_id != "manualSort"}
    types: dict[str, ColumnType] = {}
    # Identifiers below come from the document's metadata (columns() checked the table).
    last_sql = f"SELECT COALESCE(MAX(id), 0) FROM {quote(table_id)}"  # noqa: S608
    (last_id,) = conn.execute(last_sql).fetchone()
    row_ids: list[int] = []
    for row in rows:
        for key in row:
            if key in formulas:
                raise BadRequest(
                    f"{table_id}.{key} is a formula column", "leave it out; Grist computes it"
                )
            if key not in writable:
                raise BadRequest(
                    f'Invalid column "{key}"', f"columns of {table_id}: {', '.join(writable)}"
                )
            if key not in types:
                types[key] = parse_type(writable[key])
        row_id = last_id + len(row_ids) + 1
        names = ["id", "manualSort", *row, *formulas]
        values = [row_id, row_id]
        values += [encode_cell(types[k], v, f"{table_id}.{k}") for k, v in row.items()]
        values += [None] * len(formulas)
        insert = f"INSERT INTO {quote(table_id)} ({', '.join(map(quote, names))})"
        conn.execute(f"{insert} VALUES ({', '.join('?' * len(names))})", values)
        row_ids.append(row_id)
    _refresh_display_helpers(conn, table_id)
    return row_ids


def _refresh_display_helpers(conn: sqlite3.Connection, table_id: str) -> None:
    """Recompute `$ref.shown` helpers reading from or pointing at `table_id`."""
    for link in DocMetadata(conn).display_links():
        if table_id not in (link.table_id, link.target_table):
            continue
        # Every identifier comes from the document's metadata.
        source, ref = quote(link.table_id), quote(link.ref_col)
        target = f"{quote(link.target_table)} AS target WHERE target.id = {source}.{ref}"
        shown = f"SELECT target.{quote(link.shown_col)} FROM {target}"  # noqa: S608
        conn.execute(
            f"UPDATE {source} SET {quote(link.helper_col)} ="  # noqa: S608
            f" CASE WHEN EXISTS (SELECT 1 FROM {target}) THEN ({shown}) ELSE ? END",
            (parse_type(link.shown_type).empty,),
        )


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        publish(tmp, path)
        return
    try:
        os.link(tmp, path)  # unlike rename, a link never replaces an existing file
    except FileExistsError:
        raise _exists(path) from None
    sync_dir(path.parent)


def _exists(path: Path) -> GristopsError:
    return GristopsError(
        f"{path}: a document already exists there", "remove it first, or choose another document id"
    )
