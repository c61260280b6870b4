"""Grist's `_grist_*` metadata rows for new tables, and the few lookups that
writing rows needs.

Row ids and positions are given explicitly: the document is new, so each
metadata table counts from 1, and positions equal ids as in documents Grist
builds through its API.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from gristops.errors import NotFound
from gristops.store.metadata import quote
from gristops.store.newdoc.spec import ColumnSpec


@dataclass(frozen=True)
class ColumnMeta:
    col_id: str
    type: str
    is_formula: bool


@dataclass(frozen=True)
class DisplayLink:
    """A Ref column `table_id.ref_col` showing `target_table.shown_col` via `helper_col`."""

    table_id: str
    ref_col: str
    helper_col: str
    target_table: str
    shown_col: str
    shown_type: str


class DocMetadata:
    """Reads and appends metadata rows on an open connection (inside its transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def columns(self, table_id: str) -> list[ColumnMeta]:
        """The table's columns in order; NotFound when the table does not exist."""
        if not self._conn.execute(
            "SELECT 1 FROM _grist_Tables WHERE tableId = ?", (table_id,)
        ).fetchone():
            raise NotFound(f'Table not found "{table_id}"', "table ids are case-sensitive")
        rows = self._conn.execute(
            "SELECT c.colId, c.type, c.isFormula FROM _grist_Tables_column AS c"
            " JOIN _grist_Tables AS t ON t.id = c.parentId WHERE t.tableId = ?"
            " ORDER BY c.parentPos, c.id",
            (table_id,),
        )
        return [ColumnMeta(col_id, type_, bool(formula)) for col_id, type_, formula in rows]

    def display_links(self) -> list[DisplayLink]:
        """Every Ref column of the document that shows a column of its target table."""
        rows = self._conn.execute(
            "SELECT t.tableId, c.colId, d.colId, vt.tableId, v.colId, v.type"
            " FROM _grist_Tables_column AS c"
            " JOIN _grist_Tables AS t ON t.id = c.parentId"
            " JOIN _grist_Tables_column AS d ON d.id = c.displayCol"
            " JOIN _grist_Tables_column AS v ON v.id = c.visibleCol"
            " JOIN _grist_Tables AS vt ON vt.id = v.parentId"
            " WHERE c.type LIKE 'Ref:%'"
        )
        return [DisplayLink(*row) for row in rows]

    def add_table(self, table_id: str) -> int:
        return self._add("_grist_Tables", tableId=table_id)

    def add_column(
        self,
        table_ref: int,
        col_id: str,
        type_: str,
        *,
        label: str | None = None,
        widget_options: dict[str, Any] | None = None,
        formula: str | None = None,
    ) -> int:
        ref = self._next_id("_grist_Tables_column")
        return self._add(
            "_grist_Tables_column",
            id=ref,
            parentId=table_ref,
            parentPos=ref,
            colId=col_id,
            type=type_,
            widgetOptions=json.dumps(widget_options) if widget_options else "",
            isFormula=int(formula is not None),
            formula=formula or "",
            label=col_id if label is None else label,
        )

    def add_display_helper(self, table_ref: int, ref_col: ColumnSpec, helper_id: str) -> None:
        """The hidden `$ref.shown` column, and the Ref column pointing at it."""
        target = ref_col.type.partition(":")[2]
        (shown_ref,) = self._conn.execute(
            "SELECT c.id FROM _grist_Tables_column AS c JOIN _grist_Tables AS t ON t.id = c.parentId"
            " WHERE t.tableId = ? AND c.colId = ?",
            (target, ref_col.visible_col),
        ).fetchone()
        helper_ref = self.add_column(
            table_ref, helper_id, "Any", formula=f"${ref_col.col_id}.{ref_col.visible_col}"
        )
        self._conn.execute(
            "UPDATE _grist_Tables_column SET visibleCol = ?, displayCol = ?"
            " WHERE parentId = ? AND colId = ?",
            (shown_ref, helper_ref, table_ref, ref_col.col_id),
        )

    def add_views(self, table_ref: int, name: str, title: str | None) -> None:
        """The table's page: view, tab, page, its three sections and their fields."""
        view = self._add("_grist_Views", name=name, type="raw_data")
        self._add("_grist_TabBar", viewRef=view, tabPos=self._next_id("_grist_TabBar"))
        self._add(
            "_grist_Pages", viewRef=view, indentation=0, pagePos=self._next_id("_grist_Pages")
        )
        fields = [
            ref
            for (ref,) in self._conn.execute(
                "SELECT id FROM _grist_Tables_column WHERE parentId = ?"
                " AND colId != 'manualSort' AND colId NOT LIKE 'gristHelper\\_%' ESCAPE '\\'"
                " ORDER BY parentPos, id",
                (table_ref,),
            )
        ]
        self._add_section(table_ref, view, "record", "[]", "", fields)
        raw = self._add_section(table_ref, 0, "record", "", title or "", fields)
        card = self._add_section(table_ref, 0, "single", "", "", fields)
        self._conn.execute(
            "UPDATE _grist_Tables SET primaryViewId = ?, rawViewSectionRef = ?,"
            " recordCardViewSectionRef = ? WHERE id = ?",
            (view, raw, card, table_ref),
        )

    def _add_section(
        self, table_ref: int, view: int, key: str, sort: str, title: str, fields: list[int]
    ) -> int:
        section = self._add(
            "_grist_Views_section",
            tableRef=table_ref,
            parentId=view,
            parentKey=key,
            title=title,
            defaultWidth=100,
            borderWidth=1,
            sortColRefs=sort,
        )
        for col_ref in fields:
            ref = self._next_id("_grist_Views_section_field")
            self._add(
                "_grist_Views_section_field",
                id=ref,
                parentId=section,
                parentPos=ref,
                colRef=col_ref,
            )
        return section

    def _next_id(self, table: str) -> int:
        sql = f"SELECT COALESCE(MAX(id), 0) FROM {quote(table)}"  # noqa: S608 - constant table
        (last,) = self._conn.execute(sql).fetchone()
        return int(last) + 1

    def _add(self, table: str, **values: Any) -> int:
        """Insert one metadata row; `table` and the keys are constants of this module."""
        names = ", ".join(map(quote, values))
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"  # noqa: S608 - constants
        cur = self._conn.execute(sql, list(values.values()))
        assert cur.lastrowid is not None
        return cur.lastrowid
