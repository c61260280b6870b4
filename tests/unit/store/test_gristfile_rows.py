"""The file store under a row condition: Grist's filter equality, in SQL, served by an index."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from gristops.errors import Forbidden, NotFound
from gristops.store.base import RecordQuery
from gristops.store.file.store import GristFileStore
from gristops.store.rows import RowAny, RowCondition, RowEq


@pytest.fixture
async def store(shop_docs: Path) -> AsyncIterator[GristFileStore]:
    with closing(sqlite3.connect(shop_docs / "Shop.grist")) as db, db:
        db.execute("UPDATE Orders SET note = '7' WHERE id = 2")
    s = GristFileStore(shop_docs)
    yield s
    await s.aclose()


async def ids(store: GristFileStore, rows: RowCondition) -> list[int]:
    found = await store.fetch_records("Shop", "Orders", RecordQuery(rows=rows))
    return [r["id"] for r in found]


async def test_equality_is_exact_as_in_grist_filters(store: GristFileStore) -> None:
    assert await ids(store, RowEq("qty", 6)) == [1]
    assert await ids(store, RowEq("qty", 6.0)) == [1]
    assert await ids(store, RowEq("qty", "6")) == []
    assert await ids(store, RowEq("note", "7")) == [2]
    assert await ids(store, RowEq("note", 7)) == []
    assert await ids(store, RowEq("user", None)) == []
    assert await ids(store, RowAny((RowEq("user", 3), RowEq("id", 8)))) == [1, 2, 8]


async def test_the_first_ruled_read_indexes_the_column(
    store: GristFileStore, shop_docs: Path
) -> None:
    await ids(store, RowEq("user", 3))
    await store.aclose()  # waits for the background index
    with closing(sqlite3.connect(shop_docs / "Shop.grist")) as db:
        names = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "gristops_rule_Orders_user" in names


async def test_writes_outside_the_condition_leave_nothing_behind(store: GristFileStore) -> None:
    mine = RowEq("user", 3)
    with pytest.raises(Forbidden, match="row 3 is not among"):
        await store.delete_records("Shop", "Orders", [1, 3], mine)
    with pytest.raises(NotFound):
        await store.fetch_record("Shop", "Orders", 3, rows=mine)
    assert (await store.fetch_record("Shop", "Orders", 3))["id"] == 3
    assert await ids(store, mine) == [1, 2]
