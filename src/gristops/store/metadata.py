"""A document's tables and columns, read from Grist's `_grist_Tables` / `_grist_Tables_column`.

The REST shapes of `GET /tables` and `GET /columns` are built here from the
metadata rows, so they match Grist's answers field for field. Every table and
column id that later reaches SQL comes from this schema (and exists in the
SQLite table itself): user text is only ever compared against it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gristops.errors import NotFound
from gristops.store.base import JSON, Record

# Metadata fields whose stored 0/1 Grist returns as booleans, and the RefList ones.
_BOOL_FIELDS = frozenset({"onDemand", "isFormula", "untieColIdFromLabel"})
_REFLIST_FIELDS = frozenset({"rules", "recalcDeps"})
# Types whose cells hold lists (JSON arrays in the file).
LIST_TYPES = frozenset({"ChoiceList", "RefList", "Attachments"})


def quote(identifier: str) -> str:
    """An SQL identifier, quoted. Callers pass only ids found in the schema."""
    return '"' + identifier.replace('"', '""') + '"'


def _meta_value(name: str, raw: Any) -> JSON:
    """A metadata cell in Grist's REST encoding."""
    if name in _BOOL_FIELDS:
        return bool(raw)
    if name in _REFLIST_FIELDS:
        if raw is None or raw == "":
            return None
        try:
            items = json.loads(raw)
        except (TypeError, ValueError):
            return raw
        return ["L", *items] if isinstance(items, list) else raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw


@dataclass(frozen=True)
class Column:
    """One column of a user table, with what reading and writing need to know."""

    col_id: str
    col_ref: int
    type: str
    is_formula: bool
    widget_options: Mapping[str, Any]
    visible_col: int
    fields: Mapping[str, JSON]

    @property
    def base_type(self) -> str:
        """`Ref` for `Ref:Suppliers`, `DateTime` for `DateTime:UTC`."""
        return self.type.split(":", 1)[0]

    @property
    def type_arg(self) -> str:
        """The referenced table of Ref/RefList, the zone of DateTime, else ''."""
        return self.type.split(":", 1)[1] if ":" in self.type else ""

    @property
    def hidden(self) -> bool:
        return self.col_id == "manualSort" or self.col_id.startswith("gristHelper_")

    @property
    def choices(self) -> tuple[str, ...]:
        choices = self.widget_options.get("choices")
        return tuple(c for c in choices if isinstance(c, str)) if isinstance(choices, list) else ()

    def to_json(self) -> Record:
        return {"id": self.col_id, "fields": dict(self.fields)}


@dataclass(frozen=True)
class Table:
    """A user table: its REST fields and its columns in Grist's order (parentPos, then id)."""

    table_id: str
    table_ref: int
    fields: Mapping[str, JSON]
    columns: tuple[Column, ...]
    by_id: Mapping[str, Column] = field(repr=False)
    indexed: frozenset[str] = frozenset()  # columns that lead an SQLite index

    def column(self, col_id: str) -> Column | None:
        return self.by_id.get(col_id)

    def shown(self, hidden: bool) -> tuple[Column, ...]:
        """The columns an answer carries: all with `hidden`, else without manualSort/helpers."""
        return self.columns if hidden else tuple(c for c in self.columns if not c.hidden)

    def to_json(self) -> Record:
        return {"id": self.table_id, "fields": dict(self.fields)}


@dataclass(frozen=True)
class Schema:
    """All user tables of a document, in tableRef order."""

    tables: Mapping[str, Table]
    columns_by_ref: Mapping[int, tuple[Table, Column]]

    def table(self, table_id: str) -> Table:
        found = self.tables.get(table_id)
        if found is None:
            raise NotFound(
                f'Table not found "{table_id}"',
                "table ids are case-sensitive; GET /tables lists them",
            )
        return found

    def shown_column(self, column: Column) -> Column | None:
        """The column a Ref/RefList shows (its `visibleCol`), in the referenced table."""
        hit = self.columns_by_ref.get(column.visible_col)
        if hit is None or hit[0].table_id != column.type_arg:
            return None
        return hit[1]


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _sql_columns(conn: sqlite3.Connection, table_id: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table_id)})")}


def _indexed(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Per table, the columns that lead one of its indexes."""
    found: dict[str, set[str]] = {}
    rows = conn.execute(
        "SELECT m.name, i.name FROM sqlite_master AS m, pragma_index_list(m.name) AS l, "
        "pragma_index_info(l.name) AS i WHERE m.type = 'table' AND i.seqno = 0"
    )
    for table_id, col_id in rows:
        found.setdefault(table_id, set()).add(col_id)
    return found


def read_schema(conn: sqlite3.Connection) -> Schema:
    """The schema of the document open on `conn` (call inside a read transaction)."""
    sql_tables = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    indexed = _indexed(conn)
    column_rows = _rows(conn, "SELECT * FROM _grist_Tables_column ORDER BY parentPos, id")
    by_parent: dict[int, list[dict[str, Any]]] = {}
    for row in column_rows:
        by_parent.setdefault(row["parentId"], []).append(row)

    tables: dict[str, Table] = {}
    columns_by_ref: dict[int, tuple[Table, Column]] = {}
    for row in _rows(conn, "SELECT * FROM _grist_Tables ORDER BY id"):
        table_id = row["tableId"]
        if not table_id or table_id not in sql_tables:
            continue
        present = _sql_columns(conn, table_id)
        columns = tuple(
            _column(col) for col in by_parent.get(row["id"], []) if col["colId"] in present
        )
        fields = {k: _meta_value(k, v) for k, v in row.items() if k not in ("id", "tableId")}
        table = Table(
            table_id=table_id,
            table_ref=row["id"],
            fields={"tableRef": row["id"], **fields},
            columns=columns,
            by_id={c.col_id: c for c in columns},
            indexed=frozenset(indexed.get(table_id, ())),
        )
        tables[table_id] = table
        for column in columns:
            columns_by_ref[column.col_ref] = (table, column)
    return Schema(tables=tables, columns_by_ref=columns_by_ref)


def _column(row: Mapping[str, Any]) -> Column:
    try:
        options = json.loads(row.get("widgetOptions") or "{}")
    except ValueError:
        options = {}
    fields = {k: _meta_value(k, v) for k, v in row.items() if k not in ("id", "colId")}
    return Column(
        col_id=row["colId"],
        col_ref=row["id"],
        type=row.get("type") or "Any",
        # A formula column with an empty formula is Grist's "empty column": it takes data.
        is_formula=bool(row.get("isFormula")) and bool(row.get("formula")),
        widget_options=options if isinstance(options, dict) else {},
        visible_col=row.get("visibleCol") or 0,
        fields={"colRef": row["id"], **fields},
    )
