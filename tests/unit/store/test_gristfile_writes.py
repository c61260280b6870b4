"""Writing through GristFileStore: conversions, defaults, refusals that write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gristops.errors import BadRequest, NotFound
from gristops.store.base import RecordQuery, UpsertOptions
from gristops.store.file.store import GristFileStore
from tests.unit.store.conftest import DOC, digest


async def row(store: GristFileStore, table: str, row_id: int) -> dict[str, Any]:
    record = await store.fetch_record(DOC, table, row_id, hidden=True)
    fields: dict[str, Any] = record["fields"]
    return fields


async def test_text_is_converted_like_grist(store: GristFileStore) -> None:
    [new_id] = await store.add_records(
        DOC,
        "Products",
        [
            {
                "name": "typo",
                "released": "2024-01-01",
                "updated": "2024-06-01T12:00:00",
                "supplier": "Acme Tools",
                "tags": "fresh",
                "related": ["L"],
                "stock": "12",
                "price": "1,250.5",
            }
        ],
    )
    fields = await row(store, "Products", new_id)
    assert fields["released"] == 1704067200
    assert fields["updated"] == 1717236000  # noon in Europe/Paris (UTC+2) is 10:00 UTC
    assert fields["supplier"] == 4
    assert fields["tags"] == ["L", "fresh"]
    assert fields["related"] is None
    assert fields["stock"] == 12
    assert fields["price"] == 1250.5
    assert fields["manualSort"] == new_id


async def test_bool_words_and_numbers_into_text(store: GristFileStore) -> None:
    ids = await store.add_records(
        DOC,
        "Users",
        [
            {"email": "new1@shop.test", "active": "yes", "display_name": 5},
            {"email": "new2@shop.test", "active": 0, "display_name": True},
        ],
    )
    first, second = [await row(store, "Users", i) for i in ids]
    assert (first["active"], first["display_name"]) == (True, "5")
    assert (second["active"], second["display_name"]) == (False, "True")


@pytest.mark.parametrize(
    ("fields", "column", "expected"),
    [
        ({"stock": "lots"}, "stock", "Int"),
        ({"price": "cheap"}, "price", "Numeric"),
        ({"stock": 2.5}, "stock", "Int"),
        ({"price": True}, "price", "Numeric"),
        ({"released": "next week"}, "released", "Date"),
        ({"updated": "soon"}, "updated", "DateTime:Europe/Paris"),
        ({"supplier": "Nobody Inc"}, "supplier", "Ref:Suppliers"),
        ({"related": ["fresh"]}, "related", "RefList:Products"),
        ({"name": ["L", "x"]}, "name", "Text"),
    ],
)
async def test_values_that_do_not_fit_are_refused_and_nothing_is_written(
    store: GristFileStore, shop_docs: Path, fields: dict[str, Any], column: str, expected: str
) -> None:
    before = digest(shop_docs)
    good = {"name": "fine"}
    with pytest.raises(BadRequest) as caught:
        await store.add_records(DOC, "Products", [good, {"name": "bad", **fields}])
    assert f'"{column}"' in caught.value.message and expected in caught.value.message
    assert digest(shop_docs) == before


async def test_bool_text_that_is_no_word_is_refused(store: GristFileStore) -> None:
    with pytest.raises(BadRequest, match='"active"'):
        await store.update_records(DOC, "Users", [{"id": 1, "fields": {"active": "maybe"}}])


async def test_absent_columns_get_defaults_partial_ones_null(store: GristFileStore) -> None:
    ids = await store.add_records(DOC, "Suppliers", [{"name": "a", "rating": 2}, {"name": "b"}])
    first, second = [await row(store, "Suppliers", i) for i in ids]
    assert first == {"manualSort": ids[0], "name": "a", "country": "", "rating": 2}
    assert second == {"manualSort": ids[1], "name": "b", "country": "", "rating": None}


async def test_unknown_and_formula_columns_are_refused(
    store: GristFileStore, shop_docs: Path
) -> None:
    before = digest(shop_docs)
    with pytest.raises(BadRequest, match='Invalid column "nope"'):
        await store.add_records(DOC, "Products", [{"name": "x", "nope": 1}])
    with pytest.raises(BadRequest, match="formula column in_stock"):
        await store.update_records(DOC, "Products", [{"id": 3, "fields": {"in_stock": False}}])
    with pytest.raises(BadRequest, match="Invalid row id 9999"):
        await store.update_records(
            DOC, "Products", [{"id": 1, "fields": {"price": 2}}, {"id": 9999, "fields": {}}]
        )
    assert digest(shop_docs) == before


async def test_delete_resets_references(store: GristFileStore) -> None:
    await store.delete_records(DOC, "Products", [8, 9999])
    orders = await store.fetch_records(DOC, "Orders", RecordQuery(filter={"id": [6]}))
    assert orders[0]["fields"]["product"] == 0
    apple = await row(store, "Products", 1)
    assert apple["related"] == ["L", 2]
    with pytest.raises(NotFound):
        await store.fetch_record(DOC, "Products", 8)


async def test_upsert_adds_with_require_values_and_updates_first_match(
    store: GristFileStore,
) -> None:
    result = await store.upsert_records(
        DOC,
        "Products",
        [
            {"require": {"name": "Mango"}, "fields": {"price": 2}},
            {"require": {"category": "Fruit"}, "fields": {"stock": 11}},
        ],
        UpsertOptions(),
    )
    new_id = result.add_record_ids[0]
    assert result.to_json() == {
        "recordIds": [[new_id], [1]],
        "addRecordIds": [new_id],
        "updateRecordIds": [[1]],
    }
    mango = await row(store, "Products", new_id)
    assert (mango["name"], mango["price"], mango["stock"]) == ("Mango", 2, 0)
    assert (await row(store, "Products", 1))["stock"] == 11


async def test_writes_to_unknown_tables_and_metadata_are_not_found(
    store: GristFileStore, shop_docs: Path
) -> None:
    before = digest(shop_docs)
    for table in ("products", "_grist_Tables", 'Products"; DROP TABLE Users; --', "Products "):
        with pytest.raises(NotFound, match="Table not found"):
            await store.add_records(DOC, table, [{"name": "x"}])
        with pytest.raises(NotFound):
            await store.delete_records(DOC, table, [1])
    assert digest(shop_docs) == before


async def test_sql_in_column_names_is_only_ever_an_unknown_column(
    store: GristFileStore, shop_docs: Path
) -> None:
    before = digest(shop_docs)
    hostile = 'name" = 1; DROP TABLE Users; --'
    with pytest.raises(BadRequest, match="Invalid column"):
        await store.add_records(DOC, "Products", [{hostile: "x"}])
    with pytest.raises(BadRequest, match="Invalid column"):
        await store.upsert_records(
            DOC, "Products", [{"require": {hostile: 1}, "fields": {}}], UpsertOptions()
        )
    assert digest(shop_docs) == before
