"""Who may do what under access rules, on the embedded store and on the Grist-server store.

The server store talks to the replay harness: recorded grist-core answers,
with gristops' file store standing in for the record requests nobody
recorded (tests/support/grist_replay.py says why; no grist-core runs here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.access_fixture import STORES, Caller, StoreKind, gateway

pytestmark = pytest.mark.parametrize("kind", STORES)


@pytest.fixture
def client(tmp_path: Path, kind: StoreKind) -> Iterator[TestClient]:
    with gateway(tmp_path, kind) as c:
        yield c


def test_each_user_lists_only_their_rows_without_hidden_columns(client: TestClient) -> None:
    alice = Caller(client, "alice")
    r = alice.get("Orders/records")
    assert [rec["id"] for rec in r.json()["records"]] == [1, 2]
    assert all("total" not in rec["fields"] for rec in r.json()["records"])
    assert Caller(client, "carol").ids() == [3, 8]
    assert Caller(client, "dave").ids() == [5]
    assert Caller(client, "admin").ids() == [1, 2, 3, 4, 5, 6, 7, 8]
    columns = [c["id"] for c in alice.get("Orders/columns").json()["columns"]]
    assert "total" not in columns and "user" in columns


def test_query_parameters_apply_after_the_rule(client: TestClient) -> None:
    alice = Caller(client, "alice")
    assert alice.ids(limit="1") == [1]
    assert alice.ids(limit="1", offset="1") == [2]
    assert alice.ids(offset="2") == []
    assert alice.ids(sort="qty") == [2, 1]
    assert alice.ids(sort="-qty", limit="1") == [1]
    assert alice.ids(filter='{"qty": [2, 3, 4]}') == [2]
    # Another user's rows match the filter, yet nothing shows: no count, no error.
    assert alice.ids(filter='{"user": [5]}') == []
    assert alice.ids(filter='{"id": [3, 8, 2]}', sort="-id") == [2]
    shown = alice.get("Orders/records", hidden="true", cellFormat="typed", limit="1").json()
    assert [r["id"] for r in shown["records"]] == [1]
    assert "manualSort" in shown["records"][0]["fields"]
    assert "total" not in shown["records"][0]["fields"]
    headers = {**alice.headers, "X-Sort": "-qty", "X-Limit": "1"}
    by_header = client.get(f"{alice.base}/Orders/records", headers=headers).json()
    assert [r["id"] for r in by_header["records"]] == [1]
    body = {"filter": {"user": [3]}, "sort": ["-id"], "limit": 5}
    r = alice.send("POST", "Orders/records/list", body)
    assert [rec["id"] for rec in r.json()["records"]] == [2, 1]


def test_hidden_columns_cannot_be_filtered_or_sorted_on(client: TestClient) -> None:
    alice = Caller(client, "alice")
    for params in ({"filter": '{"total": [7]}'}, {"sort": "-total"}):
        r = alice.get("Orders/records", **params)
        assert r.status_code == 400 and 'Invalid column "total"' in r.json()["error"]


def test_a_row_outside_the_rule_is_404_by_id(client: TestClient) -> None:
    alice = Caller(client, "alice")
    assert alice.get("Orders/records/1").status_code == 200
    assert "total" not in alice.get("Orders/records/1").json()["fields"]
    outside, absent = alice.get("Orders/records/3"), alice.get("Orders/records/99")
    assert outside.status_code == absent.status_code == 404


def test_or_rule_on_a_user_field(client: TestClient) -> None:
    clerk = Caller(client, "clerk")
    assert clerk.ids() == [4, 8]
    assert clerk.ids(sort="-id") == [8, 4]
    assert clerk.ids(sort="-id", limit="1", offset="1") == [4]
    assert clerk.ids(limit="1", offset="1") == [8]
    assert clerk.ids(filter='{"qty": [1]}') == [4, 8]
    assert clerk.get("Orders/records/8").status_code == 200
    assert clerk.get("Orders/records/1").status_code == 404


def test_creates_get_the_owner_filled_and_refuse_someone_elses(client: TestClient) -> None:
    alice = Caller(client, "alice")
    r = alice.send("POST", "Orders/records", {"records": [{"fields": {"qty": 9}}]})
    assert r.status_code == 200, r.text
    [new] = [rec["id"] for rec in r.json()["records"]]
    assert alice.ids() == [1, 2, new]
    r = alice.send("POST", "Orders/records", {"records": [{"fields": {"qty": 1, "user": 5}}]})
    assert r.status_code == 403
    r = alice.send("POST", "Orders/records", {"records": [{"fields": {"qty": 1, "user": 3}}]})
    assert r.status_code == 200
    r = alice.send("POST", "Orders/records", {"records": [{"fields": {"note": "mine"}}]})
    assert r.status_code == 403 and '"note"' in r.json()["error"]
    r = alice.send("POST", "Orders/records", {"records": [{"fields": {"total": 1}}]})
    assert r.status_code == 403 and '"total" of "Orders" is hidden' in r.json()["error"]
    assert Caller(client, "carol").ids() == [3, 8]


def test_updates_touching_another_row_are_refused_whole(client: TestClient) -> None:
    alice, admin = Caller(client, "alice"), Caller(client, "admin")
    ok = alice.send("PATCH", "Orders/records", {"records": [{"id": 1, "fields": {"qty": 7}}]})
    assert ok.status_code == 200, ok.text
    mixed = {"records": [{"id": 1, "fields": {"qty": 8}}, {"id": 3, "fields": {"qty": 8}}]}
    assert alice.send("PATCH", "Orders/records", mixed).status_code == 403
    assert admin.get("Orders/records/1").json()["fields"]["qty"] == 7
    assert admin.get("Orders/records/3").json()["fields"]["qty"] == 1
    away = {"records": [{"id": 1, "fields": {"user": 5}}]}
    assert alice.send("PATCH", "Orders/records", away).status_code == 403
    absent = {"records": [{"id": 99, "fields": {"qty": 1}}]}
    assert alice.send("PATCH", "Orders/records", absent).status_code == 403
    readonly = alice.send(
        "PATCH", "Orders/records", {"records": [{"id": 1, "fields": {"note": "x"}}]}
    )
    assert readonly.status_code == 403 and '"note"' in readonly.json()["error"]
    assert admin.get("Orders/records/1").json()["fields"]["user"] == 3


def test_upserts_touch_only_the_users_rows(client: TestClient) -> None:
    alice, admin = Caller(client, "alice"), Caller(client, "admin")
    mine = {"records": [{"require": {"id": 2}, "fields": {"qty": 5}}]}
    assert alice.send("PUT", "Orders/records", mine).status_code == 200
    assert admin.get("Orders/records/2").json()["fields"]["qty"] == 5
    theirs = {"records": [{"require": {"id": 3}, "fields": {"qty": 5}}]}
    assert alice.send("PUT", "Orders/records", theirs).status_code == 403
    assert admin.get("Orders/records/3").json()["fields"]["qty"] == 1
    new = {"records": [{"require": {"qty": 42}}]}
    assert alice.send("PUT", "Orders/records", new).status_code == 200
    assert [r["fields"]["qty"] for r in alice.get("Orders/records").json()["records"]][-1] == 42


def test_deletes_of_rows_outside_are_refused_whole(client: TestClient) -> None:
    alice, admin = Caller(client, "alice"), Caller(client, "admin")
    assert alice.send("POST", "Orders/records/delete", [1, 3]).status_code == 403
    assert admin.ids() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert alice.send("POST", "Orders/records/delete", [2]).status_code == 200
    assert admin.ids() == [1, 3, 4, 5, 6, 7, 8]


def test_a_role_without_create_cannot_create(client: TestClient) -> None:
    clerk = Caller(client, "clerk")
    r = clerk.send("POST", "Orders/records", {"records": [{"fields": {"qty": 1}}]})
    assert r.status_code == 403
    ok = clerk.send("PATCH", "Orders/records", {"records": [{"id": 8, "fields": {"qty": 2}}]})
    assert ok.status_code == 200
    # Moving order 8 away from the clerk's note leaves it outside: refused.
    away = clerk.send("PATCH", "Orders/records", {"records": [{"id": 8, "fields": {"note": "x"}}]})
    assert away.status_code == 403
