"""Grist column types: their SQLite declaration, their empty value, and how a
Python value is stored in a `.grist` file.

The encodings are the ones recorded in tests/fixtures/grist/README.md: Date as
the epoch seconds of UTC midnight, DateTime as epoch seconds (the zone lives
only in the column type), Bool as 0/1, ChoiceList / RefList / Attachments as
compact JSON arrays (an empty list is NULL), Ref as a row id (0 = empty).
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gristops.errors import BadRequest

# Grist type -> (SQL type, DEFAULT literal, the same empty value in Python).
_STORAGE: dict[str, tuple[str, str, Any]] = {
    "Text": ("TEXT", "''", ""),
    "Choice": ("TEXT", "''", ""),
    "Numeric": ("NUMERIC", "0", 0),
    "Int": ("INTEGER", "0", 0),
    "Bool": ("BOOLEAN", "0", 0),
    "Date": ("DATE", "NULL", None),
    "DateTime": ("BLOB", "NULL", None),
    "ChoiceList": ("TEXT", "NULL", None),
    "Ref": ("INTEGER", "0", 0),
    "RefList": ("TEXT", "NULL", None),
    "Attachments": ("TEXT", "NULL", None),
    "Any": ("BLOB", "NULL", None),
    "ManualSortPos": ("NUMERIC", "1e999", float("inf")),
}
# manualSort's type: gristops creates that column itself, a spec may not ask for it.
_USER_TYPES = sorted(set(_STORAGE) - {"ManualSortPos"})
_WITH_ARGUMENT = {"Ref", "RefList", "DateTime"}
_ID_LISTS = {"RefList", "Attachments"}


@dataclass(frozen=True)
class ColumnType:
    """A parsed Grist type: `Ref:Suppliers` is ColumnType("Ref", "Suppliers")."""

    base: str
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.base}:{self.arg}" if self.arg else self.base

    @property
    def sql_declaration(self) -> str:
        """How Grist declares the column, e.g. `TEXT DEFAULT ''`."""
        sql_type, default, _ = _STORAGE[self.base]
        return f"{sql_type} DEFAULT {default}"

    @property
    def empty(self) -> Any:
        """The stored value of an empty cell (what an absent field gets)."""
        return _STORAGE[self.base][2]


MANUAL_SORT = ColumnType("ManualSortPos")
ANY = ColumnType("Any")


def parse_type(text: str) -> ColumnType:
    """Parse and check a Grist type such as `Text`, `Ref:Products`, `DateTime:UTC`."""
    base, _, arg = text.partition(":")
    hint = f"use one of {', '.join(_USER_TYPES)}; Ref, RefList and DateTime need ':<arg>'"
    if base not in _USER_TYPES or (base in _WITH_ARGUMENT) != bool(arg):
        raise BadRequest(f"unsupported column type {text!r}", hint)
    if base == "DateTime":
        try:
            ZoneInfo(arg)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(
                f"unknown time zone {arg!r} in {text!r}", "use an IANA zone such as Europe/Paris"
            ) from None
    return ColumnType(base, arg)


def encode_cell(ctype: ColumnType, value: Any, where: str) -> Any:
    """The SQLite value Grist stores for `value` in a column of type `ctype`.

    `where` (e.g. `Products.price`) names the cell in the error when the value
    does not fit the type.
    """
    if value is None:
        return None
    base = ctype.base
    if base in ("Text", "Choice") and isinstance(value, str):
        return value
    if (
        base in ("Numeric", "Any")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return value
    if base in ("Int", "Ref") and isinstance(value, int) and not isinstance(value, bool):
        if base == "Ref" and value < 0:
            raise BadRequest(
                f"{where}: row ids are positive, got {value}", "use 0 for no reference"
            )
        return value
    if base == "Any" and isinstance(value, str):
        return value
    if base == "Bool" and isinstance(value, bool):
        return int(value)
    if base == "Date" and isinstance(value, date) and not isinstance(value, datetime):
        return calendar.timegm(value.timetuple())
    if base == "DateTime" and isinstance(value, datetime):
        if value.tzinfo is None:  # a wall-clock time means the column's zone, as Grist reads it
            value = value.replace(tzinfo=ZoneInfo(ctype.arg))
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if base == "ChoiceList" and _is_list_of(value, str):
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":")) if value else None
    if base in _ID_LISTS and _is_list_of(value, int):
        return json.dumps(list(value), separators=(",", ":")) if value else None
    raise BadRequest(
        f"{where}: {value!r} does not fit a {ctype} column",
        f"give {_EXPECTED[base]} (or None for an empty cell)",
    )


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    )


_EXPECTED = {
    "Text": "a str",
    "Choice": "a str",
    "Numeric": "an int or float",
    "Int": "an int",
    "Bool": "a bool",
    "Date": "a datetime.date",
    "DateTime": "a datetime.datetime",
    "ChoiceList": "a list of str",
    "Ref": "a row id (int)",
    "RefList": "a list of row ids",
    "Attachments": "a list of attachment ids",
    "Any": "a str, int or float",
}
