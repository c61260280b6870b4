"""Raw HTTP inputs -> Store arguments, with Grist's semantics and error messages.

Pure functions: the routes pass query strings, headers and parsed JSON bodies;
errors are BadRequest whose message names the parameter (InvalidPayload adds
Grist's `details.userError`).

Boolean query parameters (`hidden`, `flat`, `noadd`, ...): absent or empty is
false, `1 true yes on` are true and `0 false no off` false, in any case.

Deliberate differences from Grist (listed in docs/gateway.md), where Grist
answers 500 or accepts nonsense:
- a malformed `filter` JSON is a 400 naming `filter` (Grist: 500);
- a `limit` that is not a number is a 400 (Grist: 500), a negative one too
  (Grist drops that many rows from the end);
- a boolean parameter with another value is a 400 (Grist takes it as false);
- unknown sort flags are a 400 (Grist ignores them or answers 500);
- a delete body that is not a list of row ids is a 400 `Invalid payload`
  saying so (Grist: 400 `[Sandbox] AssertionError`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from gristops.errors import BadRequest
from gristops.store.base import (
    JSON,
    CellFormat,
    OnMany,
    Record,
    RecordQuery,
    SortKey,
    UpsertOptions,
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_SORT_ITEM = re.compile(r"^(-)?([A-Za-z0-9_]+)(?::([A-Za-z0-9_;]*))?$")
_PARSE_INT = re.compile(r"^\s*([+-]?\d+)")
_OFFSET = re.compile(r"^\s*\d+\s*$")
_CELL_FORMATS: tuple[CellFormat, ...] = ("normal", "typed")
# Row counts end up in SQL (SQLite's integers are 64-bit) or in Grist's URLs: larger
# ones are refused here, naming the parameter, rather than failing deep inside.
MAX_ROWS = 2**63 - 1
_ON_MANY: tuple[OnMany, ...] = ("first", "none", "all")


class InvalidPayload(BadRequest):
    """Grist's `400 {"error": "Invalid payload", "details": {"userError": ...}}`."""

    def __init__(self, problem: str) -> None:
        super().__init__("Invalid payload", f"fix the request body: {problem}")
        self.details: dict[str, str] = {"userError": f"Error: {problem}"}


def flag(name: str, value: str | None) -> bool:
    """A boolean query parameter (see the module doc)."""
    if value is None or value == "":
        return False
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadRequest(f'{name} must be true or false, not "{value}"', f"use {name}=true or omit it")


def _cell_format(value: str | None) -> CellFormat:
    if not value:
        return "normal"
    for known in _CELL_FORMATS:
        if value == known:
            return known
    raise BadRequest(
        f"cellFormat parameter {value} should be one of normal,typed", "use cellFormat=typed"
    )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def _filter(text: str | None) -> dict[str, list[JSON]] | None:
    if text is None or text == "":
        return None
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise BadRequest(
            f"filter is not valid JSON: {reason}",
            'filter is a JSON object of value lists, e.g. {"category": ["Fruit"]}',
        ) from None
    return _filter_object(parsed)


def _filter_object(parsed: JSON) -> dict[str, list[JSON]]:
    if not isinstance(parsed, dict) or not all(isinstance(v, list) for v in parsed.values()):
        raise BadRequest(
            "Invalid query: filter values must be arrays",
            'filter is a JSON object of value lists, e.g. {"category": ["Fruit"]}',
        )
    return parsed


def sort_key(item: str) -> SortKey:
    """One item of a `sort` spec: `-price:emptyLast;naturalSort`."""
    match = _SORT_ITEM.match(item.strip())
    if match is None:
        raise BadRequest(
            f'Invalid sort: "{item}" is not a column id',
            "sort is column ids separated by commas, - for descending, e.g. sort=-price,name",
        )
    sign, column, flags = match.groups()
    return SortKey(column, sign == "-", tuple(f for f in (flags or "").split(";") if f))


def _sort(text: str | None) -> tuple[SortKey, ...]:
    return tuple(sort_key(item) for item in text.split(",")) if text else ()


def _limit(text: str | None) -> int | None:
    """Like JavaScript's parseInt (`2.7` -> 2); 0 or absent means no limit."""
    if not text:
        return None
    match = _PARSE_INT.match(text)
    if match is None:
        raise BadRequest("limit is not a number", "limit is a whole number of rows, e.g. limit=50")
    return _positive_limit(int(match.group(1)))


def _positive_limit(limit: int) -> int | None:
    if limit < 0:
        raise BadRequest("limit must not be negative", "use limit=0 (or none) for all rows")
    return _at_most_max("limit", limit) or None


def _at_most_max(name: str, value: int) -> int:
    if value > MAX_ROWS:
        raise BadRequest(
            f"{name} must be at most {MAX_ROWS}", f"{name} counts rows; no table has that many"
        )
    return value


def _offset(text: str | None) -> int:
    if not text:
        return 0
    if not _OFFSET.match(text):
        raise BadRequest(
            f'offset must be a whole number >= 0, not "{text}"', "offset counts rows to skip"
        )
    return _at_most_max("offset", int(text))


def record_query(
    filter: str | None,
    sort: str | None,
    limit: str | None,
    offset: str | None,
    hidden: str | None,
    cell_format: str | None,
    x_sort: str | None,
    x_limit: str | None,
) -> RecordQuery:
    """`GET /records` parameters. Query parameters win over the X-Sort / X-Limit headers."""
    return RecordQuery(
        filter=_filter(filter),
        sort=_sort(sort or x_sort),
        limit=_limit(limit or x_limit),
        offset=_offset(offset),
        hidden=flag("hidden", hidden),
        cell_format=_cell_format(cell_format),
    )


def records_list_query(body: JSON) -> RecordQuery:
    """The body of `POST /records/list`: {filter, sort (array), limit, hidden, cellFormat}."""
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise InvalidPayload("body is not a RecordsListPost")
    filters = body.get("filter")
    if filters is not None:
        if not isinstance(filters, dict):
            raise InvalidPayload("body.filter is not an object")
        for key, values in filters.items():
            if not isinstance(values, list):
                raise InvalidPayload(f"body.filter.{key} is not an array")
    sort = body.get("sort")
    if sort is not None and not isinstance(sort, list):
        raise InvalidPayload("body.sort is not an array")
    for index, item in enumerate(sort or []):
        if not isinstance(item, str):
            raise InvalidPayload(f"body.sort[{index}] is not a string")
    limit = body.get("limit")
    if limit is not None and not _is_number(limit):
        raise InvalidPayload("body.limit is not a number")
    if limit is not None and limit > MAX_ROWS:
        raise InvalidPayload(f"body.limit is more than {MAX_ROWS}")
    offset = body.get("offset", 0)
    if not (type(offset) is int and 0 <= offset <= MAX_ROWS):
        raise InvalidPayload(f"body.offset is not a whole number from 0 to {MAX_ROWS}")
    hidden = body.get("hidden", False)
    if not isinstance(hidden, bool):
        raise InvalidPayload("body.hidden is not a boolean")
    cell_format = body.get("cellFormat")
    if cell_format is not None and cell_format not in _CELL_FORMATS:
        raise InvalidPayload('body.cellFormat is not "normal" or "typed"')
    return RecordQuery(
        filter=filters,
        sort=tuple(sort_key(item) for item in sort or []),
        limit=_positive_limit(math.trunc(limit)) if limit is not None else None,
        offset=offset,
        hidden=hidden,
        cell_format=_cell_format(cell_format),
    )


def _is_number(value: JSON) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _is_cell_value(value: JSON) -> bool:
    if value is None or isinstance(value, str | bool) or _is_number(value):
        return True
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)


def _records(body: JSON, kind: str) -> list[Any]:
    if not isinstance(body, dict):
        raise InvalidPayload("body is not an object")
    if "records" not in body:
        raise InvalidPayload("body.records is missing")
    records = body["records"]
    if not isinstance(records, list):
        raise InvalidPayload("body.records is not an array")
    if not records:
        # Grist's wording for an empty list (its schema wants at least one record).
        raise InvalidPayload(f"body.records[0] is not a {kind}; body.records[0] is not an object")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidPayload(
                f"body.records[{index}] is not a {kind}; body.records[{index}] is not an object"
            )
    return records


def _cells(where: str, kind: str, cells: JSON, required: bool) -> dict[str, JSON]:
    """A record's `fields` (or `require`) object, checked; `where` is `body.records[0]`."""
    name = f"{where}.{kind}"
    if cells is None:
        if required:
            raise InvalidPayload(f"{where} is not a Record; {name} is missing")
        return {}
    if not isinstance(cells, dict):
        raise InvalidPayload(f"{name} is not an object")
    for column, value in cells.items():
        if not _is_cell_value(value):
            raise InvalidPayload(f"{name}.{column} is not a CellValue")
    return cells


def add_payload(body: JSON, flat: bool = False) -> list[dict[str, JSON]]:
    """`POST /records` body -> the fields of each new record (an `id` in a record is ignored).

    With `?flat=true` a bare list of field objects is accepted, as Grist does.
    """
    if flat and isinstance(body, list):
        body = {"records": [_flat_record(item) for item in body]}
    records = _records(body, "NewRecord")
    return [
        _cells(f"body.records[{i}]", "fields", record.get("fields"), False)
        for i, record in enumerate(records)
    ]


def _flat_record(item: JSON) -> JSON:
    if isinstance(item, dict) and "fields" not in item:
        return {"fields": {k: v for k, v in item.items() if k != "id"}}
    return item


def _row_id(where: str, record: Mapping[str, JSON]) -> int:
    if "id" not in record:
        raise InvalidPayload(f"{where} is not a Record; {where}.id is missing")
    row_id = record["id"]
    if type(row_id) is not int:
        raise InvalidPayload(f"{where} is not a Record; {where}.id is not a number")
    return row_id


def update_payload(body: JSON) -> list[Record]:
    """`PATCH /records` body -> [{"id", "fields"}]; every record must set the same columns."""
    records = _records(body, "Record")
    updates: list[Record] = []
    for index, record in enumerate(records):
        where = f"body.records[{index}]"
        row_id = _row_id(where, record)
        updates.append(
            {"id": row_id, "fields": _cells(where, "fields", record.get("fields"), True)}
        )
    first = set(updates[0]["fields"])
    if any(set(u["fields"]) != first for u in updates):
        raise BadRequest(
            "PATCH requires all records to have same fields",
            "send records that set different columns in separate requests",
        )
    return updates


def upsert_payload(body: JSON) -> list[Record]:
    """`PUT /records` body -> [{"require", "fields"}]."""
    records = _records(body, "AddOrUpdateRecord")
    upserts: list[Record] = []
    for index, record in enumerate(records):
        where = f"body.records[{index}]"
        if "require" not in record:
            raise InvalidPayload(f"{where} is not a AddOrUpdateRecord; {where}.require is missing")
        require = _cells(where, "require", record["require"], True)
        fields = _cells(where, "fields", record.get("fields"), False)
        upserts.append({"require": require, "fields": fields})
    return upserts


def delete_payload(body: JSON) -> list[int]:
    """`POST /records/delete` body: a JSON list of row ids."""
    if not isinstance(body, list) or not all(type(i) is int for i in body):
        raise InvalidPayload("body is not an array of row ids")
    return body


def upsert_options(
    noadd: str | None, noupdate: str | None, onmany: str | None, allow_empty_require: str | None
) -> UpsertOptions:
    """Query options of `PUT /records`."""
    return UpsertOptions(
        noadd=flag("noadd", noadd),
        noupdate=flag("noupdate", noupdate),
        onmany=_on_many(onmany),
        allow_empty_require=flag("allow_empty_require", allow_empty_require),
    )


def _on_many(value: str | None) -> OnMany:
    for known in _ON_MANY:
        if (value or "first") == known:
            return known
    raise BadRequest(f"onmany parameter {value} should be one of first,none,all", "use onmany=all")
