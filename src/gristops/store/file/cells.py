"""SQLite cell values -> Grist's REST encodings, for `cellFormat` normal and typed.

The file stores lists as plain JSON arrays, Bool as 0/1, dates as epoch seconds
and formula errors as marshalled `['E', 'TypeError']` BLOBs (see
tests/fixtures/grist/README.md). The API adds type codes: `["L", ...]` lists in
both formats, and with `typed` also `["d", ...]` dates, `["D", ts, tz]`
datetimes, `["R", table, id]` / `["r", table, [ids]]` references and
`["E", name]` errors in place of the value.

Values that do not fit the column type (text kept in a number column) are
returned as stored, as Grist does.
"""

from __future__ import annotations

import json
import marshal
import math
from collections.abc import Callable, Sequence
from typing import Any

from gristops.store.base import JSON, Record
from gristops.store.metadata import Column

Decoder = Callable[[Any], JSON]

_MAX_SAFE_INT = 2**53
_ATTACHMENTS_TABLE = "_grist_Attachments"


def plain(raw: Any) -> JSON:
    """A scalar as JavaScript shows it: whole floats become ints, inf/nan become null."""
    if type(raw) is float:
        if not math.isfinite(raw):
            return None
        if raw.is_integer() and abs(raw) < _MAX_SAFE_INT:
            return int(raw)
    return raw


def unmarshal(raw: bytes) -> JSON:
    """A BLOB cell (Grist marshals non-primitive values, e.g. formula errors)."""
    try:
        # The document is the server's own file, written by Grist; values written
        # through the gateway are never BLOBs.
        value = marshal.loads(raw)  # noqa: S302  # nosec B302
    except (EOFError, ValueError, TypeError):
        return None
    return _jsonable(value)


def _jsonable(value: Any) -> JSON:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return plain(value)
    return str(value)


def is_error(value: JSON) -> bool:
    return isinstance(value, list) and len(value) >= 2 and value[0] == "E"


def json_list(raw: Any) -> list[Any] | None:
    """The items of a stored JSON array, or None when the cell holds something else."""
    if type(raw) is not str or not raw.startswith("["):
        return None
    try:
        items = json.loads(raw)
    except ValueError:
        return None
    return items if isinstance(items, list) else None


def _bool(raw: Any) -> JSON:
    if type(raw) is int and raw in (0, 1):
        return raw == 1
    return plain(raw)


def _list(raw: Any) -> JSON:
    items = json_list(raw)
    return ["L", *items] if items is not None else plain(raw)


def _tagged_number(code: str, *extra: str) -> Decoder:
    def decode(raw: Any) -> JSON:
        if type(raw) in (int, float):
            return [code, plain(raw), *extra]
        return plain(raw)

    return decode


def _typed_ref(table: str) -> Decoder:
    def decode(raw: Any) -> JSON:
        return ["R", table, raw] if type(raw) is int else plain(raw)

    return decode


def _typed_ref_list(table: str) -> Decoder:
    def decode(raw: Any) -> JSON:
        if raw is None:
            return ["r", table, []]
        items = json_list(raw)
        return ["r", table, items] if items is not None else plain(raw)

    return decode


def _typed_choice_list(raw: Any) -> JSON:
    return ["L"] if raw is None else _list(raw)


def decoder(column: Column, typed: bool) -> Decoder:
    """How to decode the non-BLOB cells of `column`."""
    base = column.base_type
    if base == "Bool":
        return _bool
    if base in ("ChoiceList", "RefList", "Attachments") and not typed:
        return _list
    if not typed:
        return plain
    if base == "Date":
        return _tagged_number("d")
    if base == "DateTime":
        return _tagged_number("D", column.type_arg)
    if base == "Ref":
        return _typed_ref(column.type_arg)
    if base == "RefList":
        return _typed_ref_list(column.type_arg)
    if base == "Attachments":
        return _typed_ref_list(_ATTACHMENTS_TABLE)
    if base == "ChoiceList":
        return _typed_choice_list
    return plain


class RowDecoder:
    """Turns `SELECT id, <columns>` rows into REST records."""

    def __init__(self, columns: Sequence[Column], typed: bool) -> None:
        self.names = [c.col_id for c in columns]
        self.decoders = [decoder(c, typed) for c in columns]
        self.typed = typed

    def record(self, row: Sequence[Any]) -> Record:
        fields: dict[str, JSON] = {}
        errors: dict[str, JSON] | None = None
        for name, decode, raw in zip(self.names, self.decoders, row[1:], strict=True):
            if type(raw) is not bytes:
                fields[name] = decode(raw)
                continue
            value = unmarshal(raw)
            if is_error(value) and not self.typed:
                errors = errors or {}
                errors[name] = value[1]
                value = None
            fields[name] = value
        record: Record = {"id": row[0], "fields": fields}
        if errors:
            record["errors"] = errors
        return record
