"""Looking records up by one text column through Grist's SQL endpoint.

Logins find a user by email without downloading the users table:
`POST /api/docs/{doc}/sql` with a parameterised SELECT. The table and column
ids are checked against the table's columns and quoted; the value only ever
travels as a parameter. Grist answers raw SQLite values, which are turned back
into its REST encoding here (Bool 0/1 -> false/true, list cells -> ["L", ...]).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gristops.errors import BadRequest
from gristops.store.base import Record

# Grist makes every table and column id a Python identifier; anything else cannot be one.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LIST_TYPES = ("ChoiceList", "RefList:", "Attachments")


def quote_identifier(name: str) -> str:
    """`name` in double quotes, after checking it is a Grist id (so it holds no quote)."""
    if not _IDENTIFIER.fullmatch(name):
        raise BadRequest(f'Invalid id "{name}"', hint="Grist table and column ids are identifiers.")
    return f'"{name}"'


def lookup_sql(table_id: str, column: str, column_types: Mapping[str, str], casefold: bool) -> str:
    """The SELECT finding rows whose `column` equals the one `?` argument."""
    if column not in column_types:
        raise BadRequest(
            f'Invalid column "{column}"',
            hint=f'Table "{table_id}" has no such column; check the configured column ids.',
        )
    table, col = quote_identifier(table_id), quote_identifier(column)
    # SQLite's lower() folds ASCII only, which is what email addresses need.
    condition = f"lower({col}) = lower(?)" if casefold else f"{col} = ?"
    return f"SELECT * FROM {table} WHERE {condition} ORDER BY id"  # noqa: S608 - ids validated


def _rest_value(value: Any, column_type: str) -> Any:
    if column_type == "Bool" and value in (0, 1) and not isinstance(value, bool):
        return bool(value)
    if column_type.startswith(_LIST_TYPES) and isinstance(value, str):
        try:
            items = json.loads(value)
        except ValueError:
            return value
        return ["L", *items] if isinstance(items, list) else value
    return value


def records_from_sql(rows: list[dict[str, Any]], column_types: Mapping[str, str]) -> list[Record]:
    """Grist's /sql answer rows (`{"fields": {...}}`) as REST records `{"id", "fields"}`."""
    records: list[Record] = []
    for row in rows:
        fields = dict(row["fields"])
        row_id = fields.pop("id")
        records.append(
            {
                "id": row_id,
                "fields": {
                    name: _rest_value(value, column_types.get(name, "Any"))
                    for name, value in fields.items()
                },
            }
        )
    return records
