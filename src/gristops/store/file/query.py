"""Grist's `filter` as SQL, and its `sort` as Python keys.

Filter: a row matches when, for every filtered column, its cell equals one of
the values (Python equality in Grist's engine: exact, case-sensitive text,
`15` equals `15.0`, `true` equals `1`, `"50"` does not equal `50`). That is
SQLite's comparison once the column's type affinity is stripped with unary
`+`, so the whole filter runs in SQL with the values passed as one JSON
parameter (`json_each`), however many there are. `null` matches NULL cells.
List cells (ChoiceList, RefList, Attachments) never equal a filter value in
Grist, so for them only `null` can match.

Row conditions (access rules) become SQL the same way, ANDed to the filter,
so a rule narrows the rows before filter, sort, limit and offset see them.
Where the column's type affinity leaves the value as it is (text in a Text
or Choice column, a number in a numeric one), SQLite stored every cell with
that affinity too, so the plain `"col" = ?` means the same as `+"col"`, and
it is written that way: an index on the column can serve it.

Sort: ordered in Python with Grist's comparison (see collation.py), by
repeated stable sorts from the last key to the first, after the tie-breakers
(manualSort, then row id).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gristops.errors import BadRequest, Unavailable
from gristops.store.base import JSON, SortKey
from gristops.store.file.cells import decoder, plain, unmarshal
from gristops.store.file.collation import Key, is_empty, js_key, natural_key, text_key
from gristops.store.metadata import LIST_TYPES, Column, Table, quote
from gristops.store.rows import RowAll, RowCondition, RowEq, columns

ID = "id"
_INT64 = 2**63
_FLAGS = frozenset({"emptyLast", "naturalSort", "orderByChoice"})


def _unknown_filter_column(table: Table, col_id: str) -> BadRequest:
    return BadRequest(
        f"Error manipulating data: [Sandbox] KeyError '{col_id}'",
        f'filter names a column that table "{table.table_id}" does not have',
    )


def _scalar(value: JSON) -> bool:
    return isinstance(value, str | int | float | bool)


def _sql_number(value: JSON) -> JSON:
    # Integers beyond SQLite's 64 bits compare as the float they equal.
    if type(value) is int and not -_INT64 <= value < _INT64:
        return float(value)
    return value


def _equals_any(column: Column | None, col_id: str, values: list[JSON]) -> tuple[str, list[Any]]:
    """The cell of `col_id` equals one of `values` (Grist's filter equality)."""
    name = quote(col_id)
    is_list = column is not None and column.base_type in LIST_TYPES
    scalars = [] if is_list else [_sql_number(v) for v in values if _scalar(v)]
    parts: list[str] = []
    params: list[Any] = []
    if scalars:
        parts.append(f"+{name} IN (SELECT value FROM json_each(?))")  # noqa: S608 - ids from the schema
        params.append(json.dumps(scalars))
    if any(v is None for v in values):
        parts.append(f"{name} IS NULL")
    return ("(" + " OR ".join(parts) + ")" if parts else "0"), params


def filter_sql(table: Table, filters: dict[str, list[JSON]] | None) -> tuple[str, list[Any]]:
    """A WHERE condition and its parameters; raises BadRequest for unknown columns."""
    if not filters:
        return "1", []
    clauses: list[str] = []
    params: list[Any] = []
    for col_id, values in filters.items():
        column = table.column(col_id)
        if column is None and col_id != ID:
            raise _unknown_filter_column(table, col_id)
        clause, values_params = _equals_any(column, col_id, values)
        clauses.append(clause)
        params.extend(values_params)
    return " AND ".join(clauses), params


# Column types whose SQLite affinity leaves a text (or a number) value unchanged,
# so `"col" = ?` (which an index can serve) means exactly what `+"col" = ?` means.
_TEXT_AFFINITY = frozenset({"Text", "Choice"})
_NUMBER_AFFINITY = frozenset({"Int", "Ref", "Numeric", "Bool", "Date", "DateTime"})


def index_helps(column: Column) -> bool:
    """True when an index on the column can serve a row condition on it."""
    return column.base_type in _TEXT_AFFINITY or column.base_type in _NUMBER_AFFINITY


def unindexed(table: Table, condition: RowCondition | None) -> list[str]:
    """The condition's columns that an index would serve but none does yet."""
    if condition is None:
        return []
    return sorted(
        col_id
        for col_id in columns(condition) - table.indexed
        if (column := table.column(col_id)) is not None and index_helps(column)
    )


def _indexable(column: Column | None, value: JSON) -> bool:
    if column is None:  # the row id
        return type(value) is int
    if isinstance(value, str):
        return column.base_type in _TEXT_AFFINITY
    return _scalar(value) and column.base_type in _NUMBER_AFFINITY


def condition_sql(table: Table, condition: RowCondition | None) -> tuple[str, list[Any]]:
    """An access rule's row condition as a WHERE condition and its parameters."""
    if condition is None:
        return "1", []
    if isinstance(condition, RowEq):
        column = table.column(condition.column)
        if column is None and condition.column != ID:
            raise Unavailable(
                f'an access rule names column "{condition.column}" '
                f'that table "{table.table_id}" does not have',
                "run `gristops config check` and fix roles: in gristops.yaml",
            )
        if _indexable(column, condition.value):
            return f"{quote(condition.column)} = ?", [_sql_number(condition.value)]
        return _equals_any(column, condition.column, [condition.value])
    joiner = " AND " if isinstance(condition, RowAll) else " OR "
    clauses: list[str] = []
    params = []
    for term in condition.terms:
        clause, term_params = condition_sql(table, term)
        clauses.append(clause)
        params.extend(term_params)
    return "(" + joiner.join(clauses) + ")", params


def where_sql(
    table: Table, filters: dict[str, list[JSON]] | None, condition: RowCondition | None
) -> tuple[str, list[Any]]:
    """The filter and the row condition together."""
    rule, rule_params = condition_sql(table, condition)
    where, params = filter_sql(table, filters)
    return f"{rule} AND {where}", [*rule_params, *params]


@dataclass(frozen=True)
class SortColumn:
    """One validated sort key: the SQL column to read and how to compare it."""

    col_id: str
    descending: bool
    key: Callable[[Any], Key]


def _value_getter(column: Column | None) -> Callable[[Any], JSON]:
    """Raw SQLite value -> the value Grist's sort sees (the REST 'normal' encoding)."""
    decode = decoder(column, typed=False) if column is not None else plain

    def value(raw: Any) -> JSON:
        return unmarshal(raw) if type(raw) is bytes else decode(raw)

    return value


def _compare_key(column: Column | None, flags: Sequence[str]) -> Callable[[Any], Key]:
    value = _value_getter(column)
    natural = "naturalSort" in flags
    text = natural_key if natural else text_key
    # Numbers and text of most columns are compared as stored: no decoding needed.
    stored_as_shown = column is None or decoder(column, typed=False) is plain
    choices: dict[str, str] = {}
    if "orderByChoice" in flags and column is not None and column.base_type == "Choice":
        # Grist compares choices by their position, as zero-padded text.
        choices = {choice: f"{i:05d}" for i, choice in enumerate(column.choices)}

    def key(raw: Any) -> Key:
        kind = type(raw)
        if stored_as_shown:
            if kind is int or kind is float:
                return (1, raw)
            if kind is str:
                return (3, text(choices.get(raw, raw) if choices else raw))
            if raw is None:
                return (2, 0)
        cell = value(raw)
        if choices and type(cell) is str:
            cell = choices.get(cell, cell)
        return js_key(cell, natural)

    if "emptyLast" not in flags:
        return key

    def empty_last(raw: Any) -> Key:
        # Applied before the direction: a descending sort puts empty values first.
        return (is_empty(value(raw)), key(raw))

    return empty_last


def sort_columns(table: Table, keys: Sequence[SortKey]) -> list[SortColumn]:
    """Check `sort` against the table; raises BadRequest naming `sort`."""
    resolved: list[SortColumn] = []
    by_ref = {str(c.col_ref): c for c in table.columns}
    for sort_key in keys:
        name = sort_key.column
        column = table.column(name) or by_ref.get(name)
        if column is None and name != ID:
            raise BadRequest(
                f'Invalid sort: unknown column "{name}"',
                f'sort names columns of table "{table.table_id}", e.g. sort=-price,name',
            )
        unknown = [f for f in sort_key.flags if f not in _FLAGS]
        if unknown:
            raise BadRequest(
                f'Invalid sort: unknown flag "{unknown[0]}" for column "{name}"',
                "flags are emptyLast, naturalSort and orderByChoice, e.g. name:naturalSort",
            )
        resolved.append(
            SortColumn(
                col_id=column.col_id if column is not None else ID,
                descending=sort_key.descending,
                key=_compare_key(column, sort_key.flags),
            )
        )
    return resolved


def _ranks(keys: list[Key], descending: bool = False) -> list[int]:
    """Each key's position among the distinct keys (negated when descending).

    Ranking once turns long collation tuples into ints, so the row sort compares
    ints, and all sort columns fit in one sort (Python's and JS's sorts are stable).
    """
    position = {key: n for n, key in enumerate(sorted(set(keys)))}
    sign = -1 if descending else 1
    return [sign * position[key] for key in keys]


def order(rows: list[Sequence[Any]], columns: Sequence[SortColumn]) -> list[int]:
    """Row ids in sorted order. `rows` are (id, manualSort, value per sort column).

    Ties fall back to manualSort, then row id, both ascending whatever the direction.
    """
    manual = _compare_key(None, ())
    ranked = [
        _ranks([column.key(row[index + 2]) for row in rows], column.descending)
        for index, column in enumerate(columns)
    ]
    ranked.append(_ranks([manual(row[1]) for row in rows]))
    ranked.append([row[0] for row in rows])
    composite = list(zip(*ranked, strict=True))
    composite.sort()
    return [entry[-1] for entry in composite]
