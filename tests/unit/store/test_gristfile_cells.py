"""Decoding .grist cells and ordering values as Grist's REST API does."""

from __future__ import annotations

import marshal
import random

from gristops.store.file.cells import RowDecoder, plain, unmarshal
from gristops.store.file.collation import is_empty, js_key, natural_key, text_key
from gristops.store.metadata import Column

ERROR_BLOB = marshal.dumps(["E", "TypeError"])


def column(col_id: str, type_: str) -> Column:
    return Column(col_id, 1, type_, False, {}, 0, {})


def test_whole_floats_read_as_ints_and_infinity_as_null() -> None:
    assert plain(15.0) == 15 and type(plain(15.0)) is int
    assert plain(1.25) == 1.25
    assert plain(float("inf")) is None
    assert plain("lots") == "lots"


def test_normal_and_typed_encodings() -> None:
    columns = [
        column("released", "Date"),
        column("updated", "DateTime:Europe/Paris"),
        column("supplier", "Ref:Suppliers"),
        column("related", "RefList:Products"),
        column("tags", "ChoiceList"),
        column("photo", "Attachments"),
        column("active", "Bool"),
    ]
    row = (1, 1709251200, 1709281800.0, 4, "[2,8]", '["fresh","organic"]', None, 1)
    normal = RowDecoder(columns, typed=False).record(row)
    assert normal == {
        "id": 1,
        "fields": {
            "released": 1709251200,
            "updated": 1709281800,
            "supplier": 4,
            "related": ["L", 2, 8],
            "tags": ["L", "fresh", "organic"],
            "photo": None,
            "active": True,
        },
    }
    typed = RowDecoder(columns, typed=True).record(row)
    assert typed["fields"] == {
        "released": ["d", 1709251200],
        "updated": ["D", 1709281800, "Europe/Paris"],
        "supplier": ["R", "Suppliers", 4],
        "related": ["r", "Products", [2, 8]],
        "tags": ["L", "fresh", "organic"],
        "photo": ["r", "_grist_Attachments", []],
        "active": True,
    }


def test_empty_lists_in_typed_format() -> None:
    columns = [column("tags", "ChoiceList"), column("related", "RefList:Products")]
    typed = RowDecoder(columns, typed=True).record((5, None, None))
    assert typed["fields"] == {"tags": ["L"], "related": ["r", "Products", []]}


def test_text_kept_in_typed_columns_reads_back_as_text() -> None:
    columns = [column("stock", "Int"), column("released", "Date"), column("tags", "ChoiceList")]
    for typed in (False, True):
        record = RowDecoder(columns, typed).record((21, "lots", "soon", "not json"))
        assert record["fields"] == {"stock": "lots", "released": "soon", "tags": "not json"}


def test_formula_errors_become_null_plus_errors_or_typed_error_values() -> None:
    columns = [column("stock", "Int"), column("in_stock", "Bool")]
    normal = RowDecoder(columns, typed=False).record((18, None, ERROR_BLOB))
    assert normal == {
        "id": 18,
        "fields": {"stock": None, "in_stock": None},
        "errors": {"in_stock": "TypeError"},
    }
    typed = RowDecoder(columns, typed=True).record((18, None, ERROR_BLOB))
    assert typed == {"id": 18, "fields": {"stock": None, "in_stock": ["E", "TypeError"]}}


def test_broken_blobs_read_as_null() -> None:
    assert unmarshal(b"\x00garbage") is None


def test_text_order_matches_grist() -> None:
    expected = [
        "",
        "🍎 gift box",
        "ångström ruler",
        "apple",
        "Apple",
        "Banana",
        "eclair",
        "Éclair",
        "item 10",
        "item 9",
        "Ölkanne",
        "Straße-Schild",
        "Zebra",
        "ZEBRA plush",
        "zucchini",
    ]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=text_key) == expected


def test_natural_sort_compares_numbers_by_value() -> None:
    names = ["item 10", "item 9", "item 1", "Item 2", "item 010b", "item"]
    assert sorted(names, key=natural_key) == [
        "item",
        "item 1",
        "Item 2",
        "item 9",
        "item 10",
        "item 010b",
    ]


def test_values_order_by_javascript_type_first() -> None:
    values = ["a", None, ["L", "x"], 3, True, 2.5, False, ["L"]]
    assert sorted(values, key=js_key) == [False, True, 2.5, 3, None, ["L"], ["L", "x"], "a"]


def test_empty_means_null_empty_text_or_false_not_zero() -> None:
    assert [v for v in (None, "", False, 0, 0.0, ["L"], "x") if is_empty(v)] == [None, "", False]
