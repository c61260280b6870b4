"""Written values -> what the `.grist` file stores, by column type.

Follows Grist's conversions: Date/DateTime text is parsed (ISO 8601; a
DateTime without an offset is in the column's zone), text into a Ref is
looked up in the column the Ref shows (`visibleCol`), a plain string into a
ChoiceList becomes a one-item list, `["L"]` (an empty list) is stored as
null, null into a Ref is 0 and into a Bool false, numbers and booleans into
Text/Choice become Grist's text of them (`0.1 + 0.2` -> `"0.3"`, `true` ->
`"True"`), only `""` counts as empty (`" "` is text), and the API's type codes are accepted
(`["L", ...]`, `["d", ts]`, `["D", ts, tz]`, `["R", table, id]`, `["r", table, ids]`).

Deliberate differences from Grist (listed in docs/gateway.md):
- Where Grist keeps a value that does not fit the column as text or as the
  raw value (`"lots"` into an Int, `"cheap"` into a Numeric, a Ref name that
  matches no row, `true` into a Numeric), gristops refuses the request with
  400 naming the column and the expected type, and writes nothing.
- Lists, objects and error codes are refused in Text, Choice and Any columns.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gristops.errors import BadRequest
from gristops.store.base import JSON
from gristops.store.metadata import Column, Schema, quote

_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?$")
_INTEGER = re.compile(r"^[-+]?\d+$")
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0", ""})


class WrongType(BadRequest):
    """A value that does not fit its column (nothing of the request is written)."""


def _wrong(column: Column, value: JSON, expected: str) -> WrongType:
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return WrongType(
        f'Invalid value for column "{column.col_id}" ({column.type}): {shown} is not {expected}',
        f"send {expected}, or null to leave the cell empty",
    )


def _is_number(value: JSON) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _parse_number(text: str) -> float | None:
    text = text.strip()
    if not text or not _NUMBER.match(text) or not any(c.isdigit() for c in text):
        return None
    return float(text.replace(",", ""))


def _text(column: Column, value: JSON) -> JSON:
    if value is None or isinstance(value, str):
        return value
    if type(value) is bool:
        return "True" if value else "False"  # as Grist's engine (Python) writes them
    if _is_number(value):
        # Grist's text of a number: 15 significant digits (0.1 + 0.2 -> "0.3"), no "-0".
        return "0" if value == 0 else f"{value:.15g}"
    raise _wrong(column, value, "text")


def _numeric(column: Column, value: JSON) -> JSON:
    if value is None or _is_number(value):
        return None if value is None else float(value)
    if isinstance(value, str):
        if not value:
            return None
        parsed = _parse_number(value)
        if parsed is not None:
            return parsed
    raise _wrong(column, value, "a number")


def _int(column: Column, value: JSON) -> JSON:
    number: int | float | None = None
    if value is None or value == "":
        return None
    if isinstance(value, str):
        number = _parse_number(value)
    elif _is_number(value):
        number = value
    if number is None or not float(number).is_integer() or abs(number) >= 2**63:
        raise _wrong(column, value, "a whole number")
    return int(number)


def _bool(column: Column, value: JSON) -> JSON:
    if value is None:
        return 0  # Grist stores null written into a Bool cell as false
    if type(value) is bool:
        return int(value)
    if _is_number(value) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE:
            return 1
        if word in _FALSE:
            return 0
    raise _wrong(column, value, "true or false")


def _zone(column: Column) -> ZoneInfo:
    try:
        return ZoneInfo(column.type_arg or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _seconds(moment: datetime) -> int | float:
    stamp = moment.timestamp()
    return int(stamp) if stamp.is_integer() else stamp


def _moment(
    column: Column, value: JSON, parse: Callable[[str], JSON | None], expected: str
) -> JSON:
    """A Date or DateTime cell: epoch seconds as given, ["d"/"D", epoch, ...], or text `parse` reads."""
    if isinstance(value, list) and len(value) >= 2 and value[0] in ("d", "D"):
        value = value[1]
    if value is None or _is_number(value):
        return value
    if isinstance(value, str):
        if not value:
            return None
        parsed = parse(value)
        if parsed is not None:
            return parsed
    raise _wrong(column, value, expected)


def _date(column: Column, value: JSON) -> JSON:
    def parse(text: str) -> JSON | None:
        try:
            return calendar.timegm(date.fromisoformat(text[:10]).timetuple())
        except ValueError:
            return None

    return _moment(column, value, parse, "a date (YYYY-MM-DD or epoch seconds)")


def _datetime(column: Column, value: JSON) -> JSON:
    def parse(text: str) -> JSON | None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_zone(column))
        return _seconds(moment.astimezone(UTC))

    return _moment(column, value, parse, "a date and time (ISO 8601 or epoch seconds)")


def _list_items(column: Column, value: JSON, code_tables: tuple[str, ...]) -> list[Any] | None:
    """Items of an encoded list (`["L", ...]`, or `["r", table, [ids]]` for references)."""
    if isinstance(value, list) and value and value[0] == "L":
        return list(value[1:])
    if (
        isinstance(value, list)
        and len(value) == 3
        and value[0] == "r"
        and value[1] in code_tables
        and isinstance(value[2], list)
    ):
        return list(value[2])
    return None


def _split_text(text: str) -> list[str]:
    """`'a, b'` or `'["a","b"]'` -> ['a', 'b'] (Grist's list parsers take both)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            items = None
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return items
    row = next(csv.reader([stripped], skipinitialspace=True), [])
    return [item.strip() for item in row if item.strip()]


def _stored_list(items: list[Any]) -> str | None:
    return json.dumps(items, ensure_ascii=False, separators=(",", ":")) if items else None


class Converter:
    """Converts the values of one write request; Ref lookups are cached for the request."""

    def __init__(self, conn: sqlite3.Connection, schema: Schema) -> None:
        self._conn = conn
        self._schema = schema
        self._lookups: dict[tuple[int, str], int | None] = {}
        self._by_type: dict[str, Callable[[Column, JSON], JSON]] = {
            "Text": _text,
            "Choice": _text,
            "Numeric": _numeric,
            "Int": _int,
            "Bool": _bool,
            "Date": _date,
            "DateTime": _datetime,
            "ChoiceList": self._choice_list,
            "Ref": self._ref,
            "RefList": self._ref_list,
            "Attachments": self._attachments,
            "ManualSortPos": _numeric,
            "PositionNumber": _numeric,
        }

    def value(self, column: Column, value: JSON) -> JSON:
        """The value to store in `column`; raises WrongType when it does not fit."""
        convert = self._by_type.get(column.base_type, self._any)
        return convert(column, value)

    def _any(self, column: Column, value: JSON) -> JSON:
        if value is None or isinstance(value, str | bool) or _is_number(value):
            return int(value) if type(value) is bool else value
        raise _wrong(column, value, "text, a number, true/false or null")

    def _choice_list(self, column: Column, value: JSON) -> JSON:
        if value is None:
            return None
        if isinstance(value, str):
            return _stored_list(_split_text(value))
        items = _list_items(column, value, ())
        if items is None or not all(isinstance(i, str) for i in items):
            raise _wrong(column, value, 'a list of choices (["L", "a", "b"] or "a")')
        return _stored_list(items)

    def _ref(self, column: Column, value: JSON) -> JSON:
        if isinstance(value, list) and len(value) == 3 and value[0] == "R":
            if value[1] != column.type_arg:
                raise _wrong(column, value, f"a reference to {column.type_arg}")
            value = value[2]
        if value is None or value == "":
            return 0
        if type(value) in (int, float) and float(value).is_integer() and value >= 0:
            return int(value)
        if isinstance(value, str):
            found = self._lookup(column, value)
            if found is not None:
                return found
        raise _wrong(column, value, f"a row id of {column.type_arg} or a value it shows")

    def _ref_list(self, column: Column, value: JSON) -> JSON:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            items: list[Any] | None = [self._ref(column, item) for item in _split_text(value)]
        else:
            items = _list_items(column, value, (column.type_arg,))
        if items is None or not all(type(i) is int and i >= 0 for i in items):
            raise _wrong(column, value, f'a list of row ids of {column.type_arg} (["L", 1, 2])')
        return _stored_list(items)

    def _attachments(self, column: Column, value: JSON) -> JSON:
        if value is None:
            return None
        items = _list_items(column, value, ("_grist_Attachments",))
        if items is None or not all(type(i) is int and i > 0 for i in items):
            raise _wrong(column, value, 'a list of attachment ids (["L", 1])')
        return _stored_list(items)

    def _lookup(self, column: Column, text: str) -> int | None:
        """The first row of the referenced table whose shown column equals `text`."""
        key = (column.col_ref, text)
        if key in self._lookups:
            return self._lookups[key]
        shown = self._schema.shown_column(column)
        found: int | None = None
        if shown is None:
            # A Ref showing row ids takes the id as text.
            found = int(text) if _INTEGER.match(text.strip()) else None
        else:
            row = self._conn.execute(
                f"SELECT id FROM {quote(column.type_arg)} WHERE +{quote(shown.col_id)} = ? "  # noqa: S608 - ids from the schema
                "ORDER BY id LIMIT 1",
                (text,),
            ).fetchone()
            found = row[0] if row else None
        self._lookups[key] = found
        return found
