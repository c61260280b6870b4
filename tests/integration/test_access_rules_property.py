"""For random rules, users and queries, the gateway answers what a hand-run query over
only that user's rows answers: the rule applies before filter, sort, limit and offset.

Both stores are checked; the server store runs against the replay harness with
the file store standing in for record requests (no grist-core runs here).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.access_fixture import STORES, USERS, Caller, StoreKind, gateway

NOTES = ["a", "b", "🎁", "Alice Ångström", ""]
LEAVES = [("user", "id"), ("note", "display_name"), ("qty", "id"), ("note", "role")]
ROWS = 60


def grow(path: Path) -> None:
    """Orders gets ROWS rows of random owners, quantities and notes; users get a note-like name."""
    rng = random.Random(7)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM Orders")
        db.executemany(
            "INSERT INTO Orders (id, manualSort, product, user, qty, note) VALUES (?,?,?,?,?,?)",
            [(i, i, 1, rng.randint(0, 6), rng.randint(0, 6), rng.choice(NOTES)) for i in range(1, ROWS + 1)],
        )  # fmt: skip
        for user_id in range(1, 7):
            db.execute(
                "UPDATE Users SET display_name = ? WHERE id = ?", (rng.choice(NOTES), user_id)
            )


def conditions() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.sampled_from(LEAVES).map(lambda pair: {"rec": pair[0], "user": pair[1]})
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda terms: {"all": terms}),
            st.lists(inner, min_size=1, max_size=3).map(lambda terms: {"any": terms}),
        ),
        max_leaves=4,
    )


def holds(condition: dict[str, Any], rec: dict[str, Any], user: dict[str, Any]) -> bool:
    if "all" in condition:
        return all(holds(term, rec, user) for term in condition["all"])
    if "any" in condition:
        return any(holds(term, rec, user) for term in condition["any"])
    return bool(rec[condition["rec"]] == user[condition["user"]])


def rules_yaml(condition: dict[str, Any]) -> str:
    orders = {"actions": ["read"], "rows": condition}
    return (
        'roles:\n  admin: {"*": [read, create, update, delete]}\n'
        f"  user: {{Orders: {json.dumps(orders)}}}\n"
        f"  clerk: {{Orders: {json.dumps(orders)}}}\n"
    )


@pytest.fixture(scope="module", params=STORES)
def kind(request: pytest.FixtureRequest) -> StoreKind:
    kind: StoreKind = request.param
    return kind


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access")


def _open(root: Path, kind: StoreKind, condition: dict[str, Any]) -> Iterator[TestClient]:
    with gateway(root, kind, rules_yaml(condition), prepare=grow) as client:
        yield client


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    condition=conditions(),
    name=st.sampled_from(sorted(USERS)),
    qty=st.none() | st.lists(st.integers(0, 6), min_size=1, max_size=3),
    sort=st.sampled_from(["", "qty", "-qty", "-id", "user,-qty", "-user,id"]),
    limit=st.integers(0, 12),
    offset=st.integers(0, 20),
)
def test_gateway_answer_equals_the_query_over_the_users_rows(
    tmp_path_factory: pytest.TempPathFactory,
    kind: StoreKind,
    condition: dict[str, Any],
    name: str,
    qty: list[int] | None,
    sort: str,
    limit: int,
    offset: int,
) -> None:
    root = tmp_path_factory.mktemp("example")
    for client in _open(root, kind, condition):
        everything = Caller(client, "admin").get("Orders/records").json()["records"]
        users = Caller(client, "admin").get("Users/records").json()["records"]
        me = next(u for u in users if u["id"] == USERS[name][0])
        user = {"id": me["id"], **me["fields"]}
        params: dict[str, str] = {"limit": str(limit), "offset": str(offset)}
        if qty is not None:
            params["filter"] = json.dumps({"qty": qty})
        if sort:
            params["sort"] = sort
        caller = Caller(client, name)
        got = caller.ids(**params) if name != "admin" else None

    if got is None:
        return  # the admin's rule is the whole table
    visible = [r for r in everything if holds(condition, {"id": r["id"], **r["fields"]}, user)]
    rows = [r for r in visible if qty is None or r["fields"]["qty"] in qty]
    for key in reversed([k for k in sort.split(",") if k]):
        column = key.lstrip("-")
        rows.sort(
            key=lambda r: r["id"] if column == "id" else r["fields"][column],
            reverse=key.startswith("-"),
        )
    expected = [r["id"] for r in rows][offset : offset + limit if limit else None]
    assert got == expected
