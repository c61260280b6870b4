"""What GristServerStore asks Grist for: query parameters, paths and the login SQL."""

from __future__ import annotations

import pytest

from gristops.errors import BadRequest
from gristops.store.base import RecordQuery, SortKey, UpsertOptions
from gristops.store.server.client import doc_path
from gristops.store.server.lookup import lookup_sql, quote_identifier, records_from_sql
from gristops.store.server.store import record_params, upsert_params

USERS = {"email": "Text", "active": "Bool", "manualSort": "ManualSortPos"}


def test_defaults_send_no_parameters() -> None:
    assert record_params(RecordQuery()) == {}


def test_filter_is_compact_json_with_unicode_kept() -> None:
    params = record_params(RecordQuery(filter={"name": ["Éclair"], "id": [1, 3]}))
    assert params == {"filter": '{"name":["Éclair"],"id":[1,3]}'}


def test_sort_keys_direction_and_flags() -> None:
    keys = (
        SortKey("category", flags=("orderByChoice",)),
        SortKey("price", descending=True, flags=("emptyLast", "naturalSort")),
        SortKey("name"),
    )
    params = record_params(RecordQuery(sort=keys))
    assert params == {"sort": "category:orderByChoice,-price:emptyLast;naturalSort,name"}


@pytest.mark.parametrize(
    ("limit", "offset", "sent"),
    [(None, 0, None), (0, 0, "0"), (5, 0, "5"), (5, 10, "15"), (0, 10, "0"), (None, 10, None)],
)
def test_offset_asks_grist_for_the_rows_before_it_too(
    limit: int | None, offset: int, sent: str | None
) -> None:
    assert record_params(RecordQuery(limit=limit, offset=offset)).get("limit") == sent


def test_hidden_and_typed_cells_are_asked_for_only_when_wanted() -> None:
    params = record_params(RecordQuery(hidden=True, cell_format="typed"))
    assert params == {"hidden": "true", "cellFormat": "typed"}


def test_upsert_options_are_sent_only_when_not_grists_default() -> None:
    assert upsert_params(UpsertOptions()) == {}
    options = UpsertOptions(noadd=True, noupdate=True, onmany="all", allow_empty_require=True)
    assert upsert_params(options) == {
        "noadd": "true",
        "noupdate": "true",
        "onmany": "all",
        "allow_empty_require": "true",
    }


def test_path_segments_are_percent_encoded() -> None:
    assert doc_path("doc 1", "tables", "a/b", "records") == "/api/docs/doc%201/tables/a%2Fb/records"


def test_login_sql_folds_case_and_keeps_the_value_out_of_the_text() -> None:
    sql = lookup_sql("Users", "email", USERS, casefold=True)
    assert sql == 'SELECT * FROM "Users" WHERE lower("email") = lower(?) ORDER BY id'
    exact = lookup_sql("Users", "email", USERS, casefold=False)
    assert exact == 'SELECT * FROM "Users" WHERE "email" = ? ORDER BY id'


def test_login_sql_refuses_a_column_the_table_lacks() -> None:
    with pytest.raises(BadRequest, match='Invalid column "mail"') as caught:
        lookup_sql("Users", "mail", USERS, casefold=True)
    assert "Users" in caught.value.hint


@pytest.mark.parametrize("name", ['Users" --', "Us ers", "1Users", ""])
def test_ids_that_are_not_identifiers_are_never_quoted_into_sql(name: str) -> None:
    with pytest.raises(BadRequest, match="Invalid id"):
        quote_identifier(name)
    with pytest.raises(BadRequest):
        lookup_sql(name, "email", USERS, casefold=True)


def test_sql_rows_become_rest_records() -> None:
    types = {
        "active": "Bool",
        "tags": "ChoiceList",
        "related": "RefList:Products",
        "photo": "Attachments",
        "stock": "Int",
        "note": "ChoiceList",
    }
    rows = [
        {
            "fields": {
                "id": 7,
                "active": 1,
                "tags": '["fresh","organic"]',
                "related": "[2,8]",
                "photo": None,
                "stock": 1,
                "note": "not json",
            }
        }
    ]
    assert records_from_sql(rows, types) == [
        {
            "id": 7,
            "fields": {
                "active": True,
                "tags": ["L", "fresh", "organic"],
                "related": ["L", 2, 8],
                "photo": None,
                "stock": 1,
                "note": "not json",
            },
        }
    ]
    assert records_from_sql(rows, types)[0]["fields"]["stock"] is not True
