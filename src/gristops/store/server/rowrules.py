"""Access-rule row conditions on a Grist server, through its `filter` parameter.

A condition is an OR of AND-groups of equalities (store/rows.py `as_filters`);
each group merged with the caller's filter is one Grist `filter`, so Grist
does the work and only the caller's rows travel:

- one group (the common `rec.owner == user.id`, or an `all:`): one request,
  with the caller's sort and limit passed through;
- several groups: one request per group for the first offset+limit rows in
  the caller's order, then, when sorted, one request for those ids in that
  order (Grist's sort, not ours); unsorted answers are in row-id order, as
  Grist's are.

Writes cannot be conditioned in Grist's API: the rows a write would touch are
read first (by id, or by the upsert's `require`) and checked here, then the
write is sent. Between that check and the write another client could change
those rows; the file store checks inside its write transaction instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from gristops.errors import Forbidden
from gristops.store.base import JSON, Record, RecordQuery, UpsertOptions
from gristops.store.rows import RowCondition, as_filters, holds

Fetch = Callable[[RecordQuery], Awaitable[list[Record]]]
RULE_HINT = "your role's access rule limits which rows you see and change"


async def read(fetch: Fetch, query: RecordQuery, rows: RowCondition) -> list[Record]:
    """The rows of `query` inside `rows`, with offset and limit applied (see the module doc)."""
    filters = as_filters(rows, query.filter)
    plain = replace(query, rows=None)
    if not filters:
        return []
    if len(filters) == 1:
        return await fetch(replace(plain, filter=filters[0]))
    first = replace(plain, offset=0, limit=query.offset + query.limit if query.limit else None)
    found: dict[int, Record] = {}
    for group in filters:
        for record in await fetch(replace(first, filter=group)):
            found[int(record["id"])] = record
    if not found:
        return []
    if not query.sort:
        ordered = [found[i] for i in sorted(found)]
        end = query.offset + query.limit if query.limit else None
        return ordered[query.offset : end]
    return await fetch(replace(plain, filter={"id": sorted(found)}))


def _refuse(table_id: str, row_id: JSON, after: bool = False) -> Forbidden:
    what = "would leave" if after else "is not among"
    return Forbidden(f'row {row_id} {what} the rows of "{table_id}" you may change', RULE_HINT)


async def _current(fetch: Fetch, row_ids: list[int]) -> dict[int, Mapping[str, JSON]]:
    records = await fetch(RecordQuery(filter={"id": list(row_ids)}, hidden=True))
    return {int(r["id"]): r["fields"] for r in records}


async def check_ids(
    fetch: Fetch, table_id: str, row_ids: list[int], rows: RowCondition
) -> dict[int, Mapping[str, JSON]]:
    """The rows' fields; Forbidden when an id is absent or outside `rows`."""
    current = await _current(fetch, row_ids)
    for row_id in row_ids:
        if row_id not in current or not holds(rows, current[row_id]):
            raise _refuse(table_id, row_id)
    return current


async def check_update(
    fetch: Fetch, table_id: str, records: list[Record], rows: RowCondition
) -> None:
    """Forbidden when an updated row is outside `rows` now or would be after the update."""
    current = await check_ids(fetch, table_id, [int(r["id"]) for r in records], rows)
    for record in records:
        if not holds(rows, {**current[int(record["id"])], **record["fields"]}):
            raise _refuse(table_id, record["id"], after=True)


async def check_upsert(
    fetch: Fetch,
    table_id: str,
    records: list[Record],
    options: UpsertOptions,
    rows: RowCondition,
) -> None:
    """Forbidden when an upsert would touch a row outside `rows` or write one outside it."""
    for record in records:
        require: Mapping[str, JSON] = record["require"]
        fields: Mapping[str, JSON] = record.get("fields") or {}
        query = RecordQuery(filter={k: [v] for k, v in require.items()}, hidden=True)
        matches = await fetch(query) if require or options.allow_empty_require else []
        if not matches:
            if not options.noadd and not holds(rows, {**fields, **require}):
                raise Forbidden(
                    f'an added row would not be among the rows of "{table_id}" you may change',
                    RULE_HINT,
                )
            continue
        if options.noupdate:
            continue
        chosen = matches if options.onmany == "all" or len(matches) == 1 else matches[:1]
        if options.onmany == "none" and len(matches) > 1:
            chosen = []
        for match in chosen:
            if not holds(rows, match["fields"]):
                raise _refuse(table_id, match["id"])
            if not holds(rows, {**match["fields"], **fields}):
                raise _refuse(table_id, match["id"], after=True)
