"""The server store's checks of writes under a row condition, over rows held in a list.

`fetch` here answers Grist's exact `filter` over an in-memory table: the
checks only ever read through it, so no Grist server is needed to see what
they refuse (the replay tests send the same writes over HTTP).
"""

from __future__ import annotations

from typing import Any

import pytest

from gristops.errors import Forbidden
from gristops.store.base import Record, RecordQuery, UpsertOptions
from gristops.store.rows import RowEq, same
from gristops.store.server.rowrules import check_ids, check_update, check_upsert

ROWS: list[Record] = [
    {"id": 1, "fields": {"owner": 7, "name": "a"}},
    {"id": 2, "fields": {"owner": 7, "name": "b"}},
    {"id": 3, "fields": {"owner": 8, "name": "b"}},
]
MINE = RowEq("owner", 7)


async def fetch(query: RecordQuery) -> list[Record]:
    def keep(record: Record) -> bool:
        cells: dict[str, Any] = {"id": record["id"], **record["fields"]}
        return all(
            any(same(cells.get(k), v) for v in values) for k, values in (query.filter or {}).items()
        )

    return [r for r in ROWS if keep(r)]


async def test_ids_outside_or_absent_are_refused() -> None:
    assert set(await check_ids(fetch, "T", [1, 2], MINE)) == {1, 2}
    for ids in ([1, 3], [9]):
        with pytest.raises(Forbidden, match="is not among the rows"):
            await check_ids(fetch, "T", ids, MINE)


async def test_an_update_may_not_move_a_row_away() -> None:
    await check_update(fetch, "T", [{"id": 1, "fields": {"name": "z"}}], MINE)
    with pytest.raises(Forbidden, match="row 1 would leave"):
        await check_update(fetch, "T", [{"id": 1, "fields": {"owner": 8}}], MINE)


@pytest.mark.parametrize(
    ("record", "options", "refused"),
    [
        ({"require": {"name": "a"}, "fields": {"name": "c"}}, UpsertOptions(), None),
        ({"require": {"name": "b"}}, UpsertOptions(), None),  # first match is row 2, mine
        ({"require": {"name": "b"}}, UpsertOptions(onmany="all"), "row 3 is not among"),
        ({"require": {"name": "b"}}, UpsertOptions(onmany="none"), None),
        ({"require": {"owner": 8}}, UpsertOptions(), "row 3 is not among"),
        ({"require": {"owner": 8}}, UpsertOptions(noupdate=True), None),
        ({"require": {"id": 1}, "fields": {"owner": 8}}, UpsertOptions(), "row 1 would leave"),
        ({"require": {"name": "new"}}, UpsertOptions(), "an added row"),
        ({"require": {"name": "new"}}, UpsertOptions(noadd=True), None),
        ({"require": {"name": "new"}, "fields": {"owner": 7}}, UpsertOptions(), None),
        ({"require": {}}, UpsertOptions(), "an added row"),
    ],
)
async def test_upserts_touch_and_write_only_rows_inside(
    record: Record, options: UpsertOptions, refused: str | None
) -> None:
    if refused is None:
        await check_upsert(fetch, "T", [record], options, MINE)
    else:
        with pytest.raises(Forbidden, match=refused):
            await check_upsert(fetch, "T", [record], options, MINE)
