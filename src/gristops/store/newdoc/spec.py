"""What a new Grist document should hold: tables, columns and rows, checked up front.

Ids follow Grist's rules so that a Grist server opening the document keeps
them unchanged: table ids start with an uppercase letter, column ids with a
letter, both are Python identifiers, and ids differing only in case collide
(SQLite column and table names are case-insensitive).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gristops.errors import BadRequest
from gristops.store.coltypes import ColumnType, parse_type

_TABLE_ID = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_COL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Columns every table has, and the prefix of the display helpers gristops adds itself.
RESERVED_COL_IDS = frozenset({"id", "manualsort"})
HELPER_PREFIX = "gristHelper_"


@dataclass(frozen=True)
class ColumnSpec:
    """One column: `ColumnSpec("supplier", "Ref:Suppliers", visible_col="name")`.

    `choices` is for Choice / ChoiceList columns; `formula` makes a formula
    column (Python, computed by Grist); `visible_col` makes a Ref column show
    that column of the referenced table, as the Grist UI does.
    """

    col_id: str
    type: str
    label: str | None = None
    choices: tuple[str, ...] = ()
    formula: str | None = None
    visible_col: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table, its columns in display order, and its initial rows.

    Rows map column ids to Python values (see `coltypes.encode_cell`); absent
    columns get their type's empty value. `title` is the name shown in Grist
    when it differs from the id (e.g. `Stock Movés` for `Stock_Moves`).
    """

    table_id: str
    columns: tuple[ColumnSpec, ...]
    rows: tuple[Mapping[str, Any], ...] = ()
    title: str | None = None


def check_tables(tables: Sequence[TableSpec]) -> dict[tuple[str, str], ColumnType]:
    """Refuse a spec Grist would not accept as is; returns each column's parsed type."""
    _check_unique([t.table_id for t in tables], "table", "the document")
    by_id = {t.table_id: t for t in tables}
    types: dict[tuple[str, str], ColumnType] = {}
    for table in tables:
        _check_id(table.table_id, _TABLE_ID, "table id", "start with an uppercase letter")
        _check_unique([c.col_id for c in table.columns], "column", table.table_id)
        for col in table.columns:
            where = f"{table.table_id}.{col.col_id}"
            _check_id(col.col_id, _COL_ID, f"column id {where}", "start with a letter")
            if col.col_id.lower() in RESERVED_COL_IDS or col.col_id.startswith(HELPER_PREFIX):
                raise BadRequest(
                    f"column id {where} is reserved",
                    "Grist manages id, manualSort and gristHelper_*",
                )
            types[(table.table_id, col.col_id)] = _check_column(col, where, by_id)
    return types


def _check_column(col: ColumnSpec, where: str, tables: Mapping[str, TableSpec]) -> ColumnType:
    ctype = parse_type(col.type)
    if ctype.base in ("Ref", "RefList") and ctype.arg not in tables:
        raise BadRequest(
            f"{where}: {col.type} refers to no table of the document", "add that table"
        )
    if col.choices and ctype.base not in ("Choice", "ChoiceList"):
        raise BadRequest(f"{where}: only Choice and ChoiceList columns have choices", "drop them")
    if col.formula is not None and not col.formula.strip():
        raise BadRequest(f"{where}: the formula is empty", "give Python code or None")
    if col.visible_col is not None:
        if ctype.base != "Ref":
            raise BadRequest(
                f"{where}: only Ref columns can show another column", "drop visible_col"
            )
        if all(c.col_id != col.visible_col for c in tables[ctype.arg].columns):
            raise BadRequest(
                f"{where}: {ctype.arg} has no column {col.visible_col!r} to show",
                f"name a column of {ctype.arg}",
            )
    return ctype


def _check_id(value: str, pattern: re.Pattern[str], what: str, rule: str) -> None:
    if not pattern.match(value) or keyword.iskeyword(value):
        raise BadRequest(
            f"{what} {value!r} is not a valid Grist id",
            f"use letters, digits and _, {rule}, and avoid Python keywords",
        )


def _check_unique(ids: Sequence[str], what: str, where: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value.lower() in seen:
            raise BadRequest(
                f"{what} {value!r} appears twice in {where}", "ids must differ in more than case"
            )
        seen.add(value.lower())
