"""GristFileStore as a whole: documents, reads, bad input, concurrency, journal modes."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from gristops.errors import BadRequest, NotFound
from gristops.observe.metrics import create_metrics
from gristops.store.base import RecordQuery, SortKey, Store
from gristops.store.file.store import GristFileStore
from tests.unit.store.conftest import DOC, digest


def ids(records: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in records]


def test_it_is_a_store(shop_docs: Path) -> None:
    assert isinstance(GristFileStore(shop_docs), Store)


@pytest.mark.parametrize(
    "doc_id",
    ["NoSuchDoc", "..", "../docs/Shop", "Shop/../Shop", "a/b", "Shop.grist", "Shop'", "", "-Shop"],
)
async def test_unknown_documents_and_path_tricks_are_not_found(
    store: GristFileStore, shop_docs: Path, doc_id: str
) -> None:
    (shop_docs.parent / "outside.grist").write_bytes((shop_docs / "Shop.grist").read_bytes())
    with pytest.raises(NotFound, match="document not found"):
        await store.list_tables(doc_id)
    with pytest.raises(NotFound, match="document not found"):
        await store.ping(doc_id)


async def test_a_symlink_out_of_the_folder_is_not_served(
    store: GristFileStore, shop_docs: Path
) -> None:
    outside = shop_docs.parent / "elsewhere.grist"
    shutil.copyfile(shop_docs / "Shop.grist", outside)
    (shop_docs / "Linked.grist").symlink_to(outside)
    with pytest.raises(NotFound):
        await store.list_tables("Linked")


async def test_unknown_tables_are_not_found(store: GristFileStore) -> None:
    for table in ("products", "Nope", "_grist_Tables", "Products; --"):
        with pytest.raises(NotFound, match=f'Table not found "{table}"'):
            await store.fetch_records(DOC, table, RecordQuery())


async def test_hostile_filter_and_sort_keys_are_unknown_columns(
    store: GristFileStore, shop_docs: Path
) -> None:
    before = digest(shop_docs)
    hostile = 'name" IS NOT NULL OR "1'
    with pytest.raises(BadRequest, match="KeyError"):
        await store.fetch_records(DOC, "Products", RecordQuery(filter={hostile: ["x"]}))
    with pytest.raises(BadRequest, match="sort"):
        await store.fetch_records(DOC, "Products", RecordQuery(sort=(SortKey(hostile),)))
    with pytest.raises(BadRequest, match="sort"):
        await store.fetch_records(
            DOC, "Products", RecordQuery(sort=(SortKey("name", flags=("x",)),))
        )
    assert digest(shop_docs) == before


async def test_filter_values_are_data_not_sql(store: GristFileStore) -> None:
    query = RecordQuery(filter={"name": ["' OR 1=1 --", '") OR 1 --']})
    assert await store.fetch_records(DOC, "Products", query) == []


async def test_a_filter_with_many_values_works(store: GristFileStore) -> None:
    values = list(range(-6000, 0)) + list(range(2990, 12000))
    query = RecordQuery(filter={"seq": values}, sort=(SortKey("seq", descending=True),))
    records = await store.fetch_records(DOC, "Events", query)
    assert ids(records) == list(range(3000, 2989, -1))


async def test_offset_pages_after_sorting(store: GristFileStore) -> None:
    sort = (SortKey("name"),)
    everything = ids(await store.fetch_records(DOC, "Products", RecordQuery(sort=sort)))
    page = await store.fetch_records(DOC, "Products", RecordQuery(sort=sort, limit=4, offset=4))
    assert ids(page) == everything[4:8]
    unsorted = await store.fetch_records(DOC, "Products", RecordQuery(limit=2, offset=13))
    assert ids(unsorted) == [14, 15]


async def test_negative_paging_is_refused(store: GristFileStore) -> None:
    with pytest.raises(BadRequest, match="limit"):
        await store.fetch_records(DOC, "Products", RecordQuery(limit=-1))


async def test_find_records_ignores_case_and_returns_hidden_columns(store: GristFileStore) -> None:
    found = await store.find_records(DOC, "Users", "email", "carol.mixed@shop.TEST")
    assert ids(found) == [5]
    assert "password_hash" in found[0]["fields"] and "manualSort" in found[0]["fields"]
    assert await store.find_records(DOC, "Users", "email", "carol.mixed@shop.test", False) == []
    assert ids(await store.find_records(DOC, "Users", "email", "DAVE@SHOP.TEST")) == [6]
    with pytest.raises(BadRequest, match="Invalid column"):
        await store.find_records(DOC, "Users", "mail", "x")


async def test_fetch_record(store: GristFileStore) -> None:
    record = await store.fetch_record(DOC, "Products", 3)
    assert record["fields"]["name"] == "Éclair" and "manualSort" not in record["fields"]
    with pytest.raises(NotFound):
        await store.fetch_record(DOC, "Products", 999)


async def test_changes_made_by_another_process_are_seen(
    store: GristFileStore, shop_docs: Path
) -> None:
    sort = (SortKey("name"),)
    first = await store.fetch_records(DOC, "Products", RecordQuery(sort=sort, limit=1))
    assert first[0]["fields"]["name"] == ""
    with sqlite3.connect(shop_docs / "Shop.grist") as conn:
        conn.execute("UPDATE Products SET name = '!' WHERE id = 6")
    conn.close()
    again = await store.fetch_records(DOC, "Products", RecordQuery(sort=sort, limit=1))
    assert again[0]["fields"]["name"] == "!"


async def test_a_replaced_file_is_reopened(store: GristFileStore, shop_docs: Path) -> None:
    assert len(await store.fetch_records(DOC, "Suppliers", RecordQuery())) == 4
    replacement = shop_docs / "next.tmp"
    shutil.copyfile(shop_docs / "Shop.grist", replacement)
    with sqlite3.connect(replacement) as conn:
        conn.execute("DELETE FROM Suppliers WHERE id > 1")
    conn.close()
    os.replace(replacement, shop_docs / "Shop.grist")
    assert len(await store.fetch_records(DOC, "Suppliers", RecordQuery())) == 1


async def test_concurrent_writers_never_see_database_is_locked(shop_docs: Path) -> None:
    stores = [GristFileStore(shop_docs) for _ in range(3)]
    errors: list[BaseException] = []

    def outside_writer() -> None:
        # Another process's writes, through a plain connection as Grist would make them.
        try:
            with sqlite3.connect(shop_docs / "Shop.grist", timeout=10) as conn:
                for n in range(20):
                    conn.execute("UPDATE Events SET label = ? WHERE id = 1", (f"outside {n}",))
                    conn.commit()
            conn.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    thread = threading.Thread(target=outside_writer)
    thread.start()
    try:
        writes = asyncio.gather(
            *(
                s.add_records(DOC, "Stock_Moves", [{"Quantite": n, "Motif_du_mouvement": "c"}])
                for n in range(30)
                for s in stores
            )
        )
        reads = asyncio.gather(
            *(s.fetch_records(DOC, "Events", RecordQuery(limit=5)) for s in stores * 10)
        )
        added, _ = await asyncio.gather(writes, reads)
    finally:
        thread.join()
        for s in stores:
            await s.aclose()
    assert errors == []
    new_ids = sorted(i for result in added for i in result)
    assert new_ids == list(range(4, 94))


async def test_wal_mode_with_a_reader_holding_a_snapshot(shop_docs: Path) -> None:
    path = shop_docs / "Shop.grist"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    # Litestream keeps a read transaction open on the database.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM Products").fetchone()
    store = GristFileStore(shop_docs)
    try:
        [new_id] = await store.add_records(DOC, "Suppliers", [{"name": "WAL Supplier"}])
        rows = await store.fetch_records(DOC, "Suppliers", RecordQuery(filter={"id": [new_id]}))
        assert rows[0]["fields"]["name"] == "WAL Supplier"
        outside = sqlite3.connect(path)
        outside.execute("UPDATE Suppliers SET name = 'renamed' WHERE id = ?", (new_id,))
        outside.commit()
        outside.close()
        rows = await store.fetch_records(DOC, "Suppliers", RecordQuery(sort=(SortKey("name"),)))
        assert "renamed" in [r["fields"]["name"] for r in rows]
    finally:
        await store.aclose()
        holder.execute("COMMIT")
        holder.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()


async def test_latency_and_failures_are_measured(shop_docs: Path) -> None:
    metrics = create_metrics()
    store = GristFileStore(shop_docs, metrics=metrics.store)
    try:
        await store.list_tables(DOC)
        with pytest.raises(NotFound):
            await store.list_columns(DOC, "Nope")
    finally:
        await store.aclose()
    registry = metrics.registry
    labels = {"store": "file", "operation": "list_tables"}
    assert registry.get_sample_value("gristops_store_operation_duration_seconds_count", labels) == 1
    failed = {"store": "file", "operation": "list_columns", "error": "NotFound"}
    assert registry.get_sample_value("gristops_store_errors_total", failed) == 1
