"""Row conditions: which rows of a table one caller may see and change.

A condition is data the gateway builds from an access rule, with the user's
values already in place: `RowEq("customer", 7)` means "the customer cell
equals 7"; `RowAll` and `RowAny` combine conditions. Stores turn it into
their own query language (SQL on the file store, Grist's `filter` on the
server store); `holds` evaluates it on one record's fields, for records that
are not stored yet.

Equality is Grist's filter equality: exact, `15` equals `15.0`, `true` equals
`1`, `"50"` does not equal `50`, and a list cell equals nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

JSON = Any


@dataclass(frozen=True)
class RowEq:
    """The cell of `column` equals `value`."""

    column: str
    value: JSON


@dataclass(frozen=True)
class RowAll:
    """Every term holds."""

    terms: tuple[RowCondition, ...]


@dataclass(frozen=True)
class RowAny:
    """At least one term holds."""

    terms: tuple[RowCondition, ...]


RowCondition = RowEq | RowAll | RowAny
Filter = dict[str, list[JSON]]


def _scalar(value: JSON) -> bool:
    return isinstance(value, str | int | float | bool)


def same(cell: JSON, value: JSON) -> bool:
    """Grist's filter equality of a cell and a value (see the module doc)."""
    if cell is None or value is None:
        return cell is None and value is None
    if not (_scalar(cell) and _scalar(value)):
        return False
    if isinstance(cell, str) != isinstance(value, str):
        return False
    return bool(cell == value)


def holds(condition: RowCondition, fields: Mapping[str, JSON]) -> bool:
    """True when the record with these fields (a missing column counts as null) is inside."""
    if isinstance(condition, RowEq):
        return same(fields.get(condition.column), condition.value)
    if isinstance(condition, RowAll):
        return all(holds(term, fields) for term in condition.terms)
    return any(holds(term, fields) for term in condition.terms)


def columns(condition: RowCondition) -> frozenset[str]:
    """The columns the condition reads."""
    if isinstance(condition, RowEq):
        return frozenset({condition.column})
    return frozenset().union(*(columns(term) for term in condition.terms))


def _alternatives(condition: RowCondition) -> Iterator[tuple[RowEq, ...]]:
    """The condition as an OR of ANDs of equalities (disjunctive normal form)."""
    if isinstance(condition, RowEq):
        yield (condition,)
    elif isinstance(condition, RowAny):
        for term in condition.terms:
            yield from _alternatives(term)
    else:
        for combination in product(*(list(_alternatives(term)) for term in condition.terms)):
            yield tuple(eq for part in combination for eq in part)


def as_filters(condition: RowCondition, base: Filter | None = None) -> list[Filter]:
    """Grist `filter` objects whose union is exactly the rows of `base` where the condition holds.

    Alternatives that can match nothing (a column pinned to two values, or to a
    value the base filter excludes) are left out; an empty list matches nothing.
    """
    filters: list[Filter] = []
    for alternative in _alternatives(condition):
        merged: Filter | None = {key: list(values) for key, values in (base or {}).items()}
        for eq in alternative:
            assert merged is not None
            kept = [v for v in merged.get(eq.column, [eq.value]) if same(v, eq.value)]
            if not kept or not (_scalar(eq.value) or eq.value is None):
                merged = None
                break
            merged[eq.column] = kept[:1]
        if merged is not None and merged not in filters:
            filters.append(merged)
    return filters
