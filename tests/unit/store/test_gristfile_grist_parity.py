"""Regressions found by the differential tests against live Grist (tests/integration/test_differential.py).

Each test is one mismatch the embedded store had with grist-core 1.7.17, now
fixed; the expected values are what live Grist stored for the same write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.errors import BadRequest
from gristops.store.file.store import GristFileStore
from tests.unit.store.conftest import DOC, digest
from tests.unit.store.test_gristfile_writes import row


async def test_null_into_a_bool_column_is_stored_false(store: GristFileStore) -> None:
    [new] = await store.add_records(DOC, "Users", [{"email": "n@shop.test", "active": None}])
    assert (await row(store, "Users", new))["active"] is False
    await store.update_records(DOC, "Users", [{"id": 1, "fields": {"active": None}}])
    assert (await row(store, "Users", 1))["active"] is False


async def test_booleans_into_text_are_grist_words(store: GristFileStore) -> None:
    [new] = await store.add_records(DOC, "Products", [{"name": True, "category": False}])
    fields = await row(store, "Products", new)
    assert (fields["name"], fields["category"]) == ("True", "False")


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.30000000000000004, "0.3"),
        (1e20, "1e+20"),
        (123456789012345678, "1.23456789012346e+17"),
        (5.0, "5"),
        (-0.0, "0"),
        (1e-7, "1e-07"),
        (123456.7890123456789, "123456.789012346"),
    ],
)
async def test_numbers_into_text_keep_fifteen_significant_digits(
    store: GristFileStore, number: float, text: str
) -> None:
    [new] = await store.add_records(DOC, "Products", [{"name": number}])
    assert (await row(store, "Products", new))["name"] == text


@pytest.mark.parametrize(
    ("column", "kind"), [("price", "Numeric"), ("stock", "Int"), ("released", "Date")]
)
async def test_blank_text_is_not_an_empty_number_or_date(
    store: GristFileStore, shop_docs: Path, column: str, kind: str
) -> None:
    before = digest(shop_docs)
    # Grist keeps " " as text in these columns; gristops refuses text that does not fit.
    with pytest.raises(BadRequest, match=f'"{column}" \\({kind}\\)'):
        await store.add_records(DOC, "Products", [{"name": "x", column: " "}])
    assert digest(shop_docs) == before
    [new] = await store.add_records(DOC, "Products", [{"name": "y", column: ""}])
    assert (await row(store, "Products", new))[column] is None
