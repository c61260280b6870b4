"""gateway.params: Grist's query parameters and write payloads turned into Store arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gristops.errors import BadRequest
from gristops.gateway import params
from gristops.gateway.params import InvalidPayload
from gristops.store.base import RecordQuery, SortKey, UpsertOptions


def query(**given: str | None) -> RecordQuery:
    names = ("filter", "sort", "limit", "offset", "hidden", "cell_format", "x_sort", "x_limit")
    return params.record_query(*(given.get(n) for n in names))


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes", "on"])
def test_true_flags(value: str) -> None:
    assert params.flag("hidden", value) is True


@pytest.mark.parametrize("value", [None, "", "false", "0", "no", "off"])
def test_false_flags(value: str | None) -> None:
    assert params.flag("hidden", value) is False


def test_other_flag_values_are_refused_naming_the_parameter() -> None:
    with pytest.raises(BadRequest, match="noadd"):
        params.flag("noadd", "maybe")


def test_defaults() -> None:
    assert query() == RecordQuery()


def test_sort_with_directions_and_flags() -> None:
    assert query(sort="category,-price:emptyLast;naturalSort").sort == (
        SortKey("category"),
        SortKey("price", True, ("emptyLast", "naturalSort")),
    )


@pytest.mark.parametrize("sort", ["name,", "-", 'name" --', "na me", "é"])
def test_malformed_sort_items_are_refused(sort: str) -> None:
    with pytest.raises(BadRequest, match="sort"):
        query(sort=sort)


def test_query_parameters_win_over_headers() -> None:
    assert query(x_sort="-stock", x_limit="2") == RecordQuery(
        sort=(SortKey("stock", True),), limit=2
    )
    both = query(sort="name", limit="2", x_sort="-stock", x_limit="5")
    assert (both.sort, both.limit) == ((SortKey("name"),), 2)


@pytest.mark.parametrize(("text", "limit"), [("0", None), ("3", 3), ("2.7", 2), (" 12abc", 12)])
def test_limit_is_parsed_like_parse_int(text: str, limit: int | None) -> None:
    assert query(limit=text).limit == limit


@pytest.mark.parametrize(("text", "message"), [("abc", "not a number"), ("-1", "negative")])
def test_bad_limits_are_refused(text: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        query(limit=text)


def test_offset() -> None:
    assert query(offset="20").offset == 20
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(BadRequest, match="offset"):
            query(offset=bad)


def test_filter() -> None:
    assert query(filter='{"category":["Fruit"],"id":[1,3]}').filter == {
        "category": ["Fruit"],
        "id": [1, 3],
    }
    assert query(filter="{}").filter == {}


def test_a_big_filter_is_fine() -> None:
    values = list(range(12_000))
    assert query(filter=json.dumps({"seq": values})).filter == {"seq": values}


@pytest.mark.parametrize("text", ["{category:[Fruit]", '{"a": [NaN]}', "{"])
def test_malformed_filter_json_is_refused_naming_filter(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^filter is not valid JSON"):
        query(filter=text)


@pytest.mark.parametrize("text", ['{"category":"Fruit"}', '["Fruit"]', "null", "5"])
def test_filter_values_must_be_arrays(text: str) -> None:
    with pytest.raises(BadRequest, match="Invalid query: filter values must be arrays"):
        query(filter=text)


def test_cell_format() -> None:
    assert query(cell_format="typed").cell_format == "typed"
    with pytest.raises(
        BadRequest, match="cellFormat parameter bogus should be one of normal,typed"
    ):
        query(cell_format="bogus")


def test_records_list_body() -> None:
    body = {
        "filter": {"category": ["Fruit"]},
        "sort": ["-price", "name:naturalSort"],
        "limit": 2.9,
        "hidden": True,
        "cellFormat": "typed",
    }
    assert params.records_list_query(body) == RecordQuery(
        filter={"category": ["Fruit"]},
        sort=(SortKey("price", True), SortKey("name", False, ("naturalSort",))),
        limit=2,
        hidden=True,
        cell_format="typed",
    )
    assert params.records_list_query({}) == RecordQuery()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"sort": "name"}, "Error: body.sort is not an array"),
        ({"filter": {"name": "apple"}}, "Error: body.filter.name is not an array"),
        ({"filter": []}, "Error: body.filter is not an object"),
        ({"limit": "3"}, "Error: body.limit is not a number"),
        ({"hidden": "yes"}, "Error: body.hidden is not a boolean"),
        ({"cellFormat": "raw"}, 'Error: body.cellFormat is not "normal" or "typed"'),
        ([], "Error: body is not a RecordsListPost"),
    ],
)
def test_records_list_body_errors(body: Any, problem: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        params.records_list_query(body)
    assert caught.value.message == "Invalid payload"
    assert caught.value.details == {"userError": problem}
    assert caught.value.http_status == 400


def test_add_payload() -> None:
    body = {"records": [{"id": 50, "fields": {"name": "x"}}, {}]}
    assert params.add_payload(body) == [{"name": "x"}, {}]


def test_flat_add_payload_drops_ids() -> None:
    flat = [{"id": 3, "name": "Flat Supplier", "rating": 2}]
    assert params.add_payload(flat, flat=True) == [{"name": "Flat Supplier", "rating": 2}]
    with pytest.raises(InvalidPayload):
        params.add_payload(flat)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"rows": []}, "Error: body.records is missing"),
        (
            {"records": []},
            "Error: body.records[0] is not a NewRecord; body.records[0] is not an object",
        ),
        (
            {"records": [1]},
            "Error: body.records[0] is not a NewRecord; body.records[0] is not an object",
        ),
        ({"records": {}}, "Error: body.records is not an array"),
        ({"records": [{"fields": []}]}, "Error: body.records[0].fields is not an object"),
        (
            {"records": [{"fields": {"x": {"a": 1}}}]},
            "Error: body.records[0].fields.x is not a CellValue",
        ),
        ([], "Error: body is not an object"),
    ],
)
def test_add_payload_errors(body: Any, problem: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        params.add_payload(body)
    assert caught.value.details == {"userError": problem}


def test_update_payload() -> None:
    body = {"records": [{"id": 1, "fields": {"price": 9}}, {"id": 2, "fields": {"price": 3}}]}
    assert params.update_payload(body) == body["records"]
    with pytest.raises(BadRequest, match=r"^PATCH requires all records to have same fields$"):
        params.update_payload(
            {"records": [{"id": 1, "fields": {"price": 9}}, {"id": 2, "fields": {"stock": 9}}]}
        )
    with pytest.raises(InvalidPayload) as caught:
        params.update_payload({"records": [{"fields": {"price": 1}}]})
    assert caught.value.details == {
        "userError": "Error: body.records[0] is not a Record; body.records[0].id is missing"
    }
    with pytest.raises(InvalidPayload, match="Invalid payload"):
        params.update_payload({"records": [{"id": True, "fields": {}}]})


def test_upsert_payload() -> None:
    body = {"records": [{"require": {"name": "Lime"}}]}
    assert params.upsert_payload(body) == [{"require": {"name": "Lime"}, "fields": {}}]
    with pytest.raises(InvalidPayload) as caught:
        params.upsert_payload({"records": [{"fields": {"name": "x"}}]})
    assert "require is missing" in caught.value.details["userError"]


def test_delete_payload() -> None:
    assert params.delete_payload([10, 11]) == [10, 11]
    for body in ({"ids": [1]}, ["1"], [True], None):
        with pytest.raises(InvalidPayload):
            params.delete_payload(body)


def test_upsert_options() -> None:
    assert params.upsert_options(None, None, None, None) == UpsertOptions()
    assert params.upsert_options("true", "1", "all", "yes") == UpsertOptions(
        True, True, "all", True
    )
    with pytest.raises(
        BadRequest, match=r"^onmany parameter some should be one of first,none,all$"
    ):
        params.upsert_options(None, None, "some", None)
