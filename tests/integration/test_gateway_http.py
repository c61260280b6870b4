"""The running gateway on the embedded store: logins, permissions, bad input, operations endpoints.

Every bad request must get a clear 4xx JSON error and leave the document
exactly as it was (checked by comparing the file's table contents).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway_harness import Gateway, copy_shop, running_gateway

pytestmark = pytest.mark.integration

RECORDS = "/api/docs/Shop/tables/{table}/records"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("gateway")
    copy_shop(root)
    extra = "auth: {max_failures_per_account: 3, max_failures_per_client: 50, lockout: 60}\n"
    with running_gateway(root, extra=extra) as gw:
        yield gw


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.login('admin@shop.test', 'Admin!2024')}"}


@pytest.fixture(scope="module")
def alice(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.login('alice@shop.test', 'alice-pass-1')}"}


def snapshot(gateway: Gateway) -> str:
    """A digest of every user table's rows in the document file."""
    path = gateway.dir / "data" / "docs" / "Shop.grist"
    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for table in ("Users", "Suppliers", "Products", "Orders", "Stock_Moves", "Events"):
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY id'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


def test_health_ready_metrics_and_docs(gateway: Gateway) -> None:
    with gateway.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        ready = c.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"store": "ok", "state": "ok"}
        assert "x-request-id" in ready.headers
        c.get("/api/docs/Shop/tables")
        metrics = c.get("/metrics").text
        assert 'route="/api/docs/{docId}/tables"' in metrics
        assert "gristops_store_operation_duration_seconds" in metrics
        assert "process_resident_memory_bytes" in metrics
        spec = c.get("/openapi.json").json()
        assert "/api/docs/{docId}/tables/{tableId}/records" in spec["paths"]
        assert c.get("/api/docs").status_code == 200


def test_login_me_refresh_logout(gateway: Gateway) -> None:
    with gateway.client() as c:
        pair = c.post(
            "/auth/login", json={"email": "dave@shop.test", "password": "dävé-ünicode-4"}
        ).json()
        me = c.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).json()
        assert me["email"] == "dave@shop.test"
        assert me["role"] == "user"
        again = c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200
        assert again.json()["refresh_token"] != pair["refresh_token"]
        # Reusing the spent token revokes the family: the newest one dies too.
        assert (
            c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
            == 401
        )
        assert (
            c.post(
                "/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}
            ).status_code
            == 401
        )


def test_login_is_case_insensitive_and_accepts_2a_hashes(gateway: Gateway) -> None:
    gateway.login("carol.mixed@shop.test", "Carol pass 3")
    gateway.login("manager@shop.test", "Manag3r#pass")


def test_wrong_password_unknown_email_and_inactive_user_look_the_same(gateway: Gateway) -> None:
    with gateway.client() as c:
        answers = [
            c.post("/auth/login", json={"email": "alice@shop.test", "password": "nope-nope-1"}),
            c.post("/auth/login", json={"email": "nobody@shop.test", "password": "nope-nope-1"}),
            c.post("/auth/login", json={"email": "bob@shop.test", "password": "bob-pass-2"}),
        ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.json()["error"] for r in answers}) == 1


def test_brute_force_is_locked_out_with_retry_after(gateway: Gateway) -> None:
    with gateway.client() as c:
        statuses = [
            c.post(
                "/auth/login", json={"email": "manager@shop.test", "password": f"guess-{i}-xx"}
            ).status_code
            for i in range(6)
        ]
        locked = c.post(
            "/auth/login", json={"email": "manager@shop.test", "password": "Manag3r#pass"}
        )
    assert statuses[:3] == [401, 401, 401]
    assert 429 in statuses
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YWRtaW46cGFzcw==",
        "Bearer "
        + ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in (
                {"alg": "none", "typ": "JWT"},
                {"sub": "1", "role": "admin", "exp": 4102444800},
            )
        )
        + ".",
    ],
)
def test_bad_credentials_are_401(gateway: Gateway, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with gateway.client() as c:
        r = c.get("/api/docs/Shop/tables", headers=headers)
    assert r.status_code == 401
    assert "error" in r.json()


def test_tampered_token_is_401(gateway: Gateway, admin: dict[str, str]) -> None:
    token = gateway.login("alice@shop.test", "alice-pass-1")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with gateway.client() as c:
        r = c.get(
            "/api/docs/Shop/tables",
            headers={"Authorization": f"Bearer {header}.{forged}.{signature}"},
        )
    assert r.status_code == 401


def test_user_sees_only_permitted_tables_and_never_passwords(
    gateway: Gateway, admin: dict[str, str], alice: dict[str, str]
) -> None:
    with gateway.client() as c:
        tables = [t["id"] for t in c.get("/api/docs/Shop/tables", headers=alice).json()["tables"]]
        assert tables == ["Suppliers", "Products", "Orders"]
        assert c.get(RECORDS.format(table="Users"), headers=alice).status_code == 404
        assert c.get(RECORDS.format(table="Events"), headers=alice).status_code == 404
        # Admins see the users table, but never its password column.
        users = c.get(RECORDS.format(table="Users"), headers=admin).json()["records"]
        assert users and all("password_hash" not in u["fields"] for u in users)
        columns = c.get("/api/docs/Shop/tables/Users/columns", headers=admin).json()["columns"]
        assert "password_hash" not in [col["id"] for col in columns]
        probe = c.get(
            RECORDS.format(table="Users"),
            params={"filter": '{"password_hash": ["x"]}'},
            headers=admin,
        )
        assert probe.status_code == 400
        assert (
            c.get(
                RECORDS.format(table="Users"), params={"sort": "password_hash"}, headers=admin
            ).status_code
            == 400
        )


def test_user_cannot_write_where_not_permitted(gateway: Gateway, alice: dict[str, str]) -> None:
    before = snapshot(gateway)
    with gateway.client() as c:
        r = c.post(
            RECORDS.format(table="Products"),
            json={"records": [{"fields": {"name": "x"}}]},
            headers=alice,
        )
        assert r.status_code == 403
        r = c.patch(
            RECORDS.format(table="Users"),
            json={"records": [{"id": 3, "fields": {"role": "admin"}}]},
            headers=alice,
        )
        assert r.status_code == 404
    assert snapshot(gateway) == before


def test_offset_and_single_record_extensions(gateway: Gateway, admin: dict[str, str]) -> None:
    with gateway.client() as c:
        page = c.get(
            RECORDS.format(table="Events"),
            params={"sort": "seq", "limit": "10", "offset": "20"},
            headers=admin,
        )
        assert [r["fields"]["seq"] for r in page.json()["records"]] == list(range(21, 31))
        one = c.get("/api/docs/Shop/tables/Products/records/3", headers=admin).json()
        assert one["id"] == 3 and "name" in one["fields"]
        assert (
            c.get("/api/docs/Shop/tables/Products/records/99999", headers=admin).status_code == 404
        )


WRONG_TYPES = [
    ("Products", {"stock": 2.5}),  # Int
    ("Products", {"price": "cheap"}),  # Numeric
    ("Users", {"active": "maybe"}),  # Bool
    ("Products", {"name": ["L", "x"]}),  # Text
    ("Products", {"category": ["L", "Fruit"]}),  # Choice
    ("Products", {"tags": 5}),  # ChoiceList
    ("Products", {"released": "2024-13-45"}),  # Date
    ("Products", {"updated": "yesterday"}),  # DateTime
    ("Products", {"supplier": "No Such Supplier"}),  # Ref
    ("Products", {"related": "abc"}),  # RefList
    ("Products", {"photo": "x"}),  # Attachments
]
BAD_REQUESTS = [
    *(
        ("POST", table, {"json": {"records": [{"fields": fields}]}}, 400)
        for table, fields in WRONG_TYPES
    ),
    (
        "POST",
        "Products",
        {"content": b'{"records": [', "headers": {"Content-Type": "application/json"}},
        400,
    ),
    ("POST", "Products", {"content": b'{"records": [{"fields": {"name": "\xff\xfe"}}]}'}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"stock": "lots"}}]}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"price": "cheap"}}]}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"released": "not a date"}}]}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"updated": "yesterday"}}]}}, 400),
    (
        "POST",
        "Products",
        {"json": {"records": [{"fields": {"supplier": "No Such Supplier"}}]}},
        400,
    ),
    ("POST", "Products", {"json": {"records": [{"fields": {"related": ["L", "x"]}}]}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"nope": 1}}]}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"in_stock": True}}]}}, 400),
    ("POST", "Products", {"json": {"records": []}}, 400),
    ("POST", "Products", {"json": {"rows": []}}, 400),
    ("POST", "Products", {"json": {"records": [{"fields": {"name": "x" * 1_100_000}}]}}, 413),
    ("PATCH", "Products", {"json": {"records": [{"id": 99999, "fields": {"name": "x"}}]}}, 400),
    ("PATCH", "Products", {"json": {"records": [{"id": 1, "fields": {"stock": "many"}}]}}, 400),
    ("PUT", "Products", {"json": {"records": [{"require": {"nope": 1}}]}}, 400),
    ("POST", "Nope", {"json": {"records": [{"fields": {"name": "x"}}]}}, 404),
    ("POST", "Products; DROP TABLE Users", {"json": {"records": [{"fields": {"name": "x"}}]}}, 404),
    ("POST", "..%2F..%2Fetc", {"json": {"records": [{"fields": {"name": "x"}}]}}, 404),
    ("POST", 'Products"', {"json": {"records": [{"fields": {"name": "x"}}]}}, 404),
]


@pytest.mark.parametrize(("method", "table", "kwargs", "status"), BAD_REQUESTS)
def test_bad_writes_are_refused_and_write_nothing(
    gateway: Gateway,
    admin: dict[str, str],
    method: str,
    table: str,
    kwargs: dict[str, object],
    status: int,
) -> None:
    before = snapshot(gateway)
    headers = {**admin, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    with gateway.client() as c:
        r = c.request(method, RECORDS.format(table=table), headers=headers, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert isinstance(r.json()["error"], str) and r.json()["error"]
    assert snapshot(gateway) == before


HOSTILE_READS = [
    ("Products", {"filter": '{"name\\" OR 1=1 --": ["x"]}'}, 400),
    ("Products", {"sort": "name; DROP TABLE Products"}, 400),
    ("Products", {"sort": '-"name"'}, 400),
    ("Products", {"filter": "{category:[Fruit]"}, 400),
    ("Products", {"filter": '{"category": "Fruit"}'}, 400),
    ("Products", {"limit": "abc"}, 400),
    ("Products", {"limit": "-1"}, 400),
    ("Products", {"offset": "-5"}, 400),
    ("Products", {"cellFormat": "bogus"}, 400),
    ("Nope", {}, 404),
    ("products", {}, 404),
    ("..", {}, 404),
]


@pytest.mark.parametrize(("table", "query", "status"), HOSTILE_READS)
def test_hostile_reads_get_clear_errors(
    gateway: Gateway, admin: dict[str, str], table: str, query: dict[str, str], status: int
) -> None:
    with gateway.client() as c:
        r = c.get(RECORDS.format(table=table), params=query, headers=admin)
    assert r.status_code == status, r.text
    assert r.json()["error"]


def test_unknown_document_and_path_tricks_in_doc_ids(
    gateway: Gateway, admin: dict[str, str]
) -> None:
    with gateway.client() as c:
        for doc in ("NoSuchDoc", "..%2FShop", "Shop%00", "Sh'op"):
            r = c.get(f"/api/docs/{doc}/tables", headers=admin)
            assert r.status_code in (400, 404), (doc, r.text)
            assert r.json()["error"]


def test_a_ten_thousand_value_filter_works(gateway: Gateway, admin: dict[str, str]) -> None:
    values = list(range(1, 10_001))
    with gateway.client() as c:
        r = c.post(
            "/api/docs/Shop/tables/Events/records/list",
            json={"filter": {"seq": values}, "limit": 5, "sort": ["seq"]},
            headers=admin,
        )
    assert r.status_code == 200, r.text
    assert [rec["fields"]["seq"] for rec in r.json()["records"]] == [1, 2, 3, 4, 5]


def test_unknown_route_is_a_json_404(gateway: Gateway, admin: dict[str, str]) -> None:
    with gateway.client() as c:
        r = c.delete(RECORDS.format(table="Products"), headers=admin)
    assert r.status_code == 404
    assert r.json() == {"error": "not found: /api/docs/Shop/tables/Products/records"}


def test_access_log_has_request_ids_and_no_secrets(gateway: Gateway) -> None:
    with gateway.client() as c:
        c.post("/auth/login", json={"email": "alice@shop.test", "password": "alice-pass-1"})
        c.get("/health", headers={"X-Request-ID": "trace-abcdef123"})
    # The access log is the log file (stderr has the rest); a line is written once the
    # response is sent: wait for it.
    access = gateway.dir / "data" / "logs" / "gateway.log"
    deadline = time.monotonic() + 10
    while "trace-abcdef123" not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = access.read_text() + gateway.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert any(line.get("request_id") == "trace-abcdef123" for line in requests)
    assert all({"method", "route", "status", "duration_ms"} <= line.keys() for line in requests)
    assert "alice-pass-1" not in log
    assert "Admin!2024" not in log


def test_cors_is_off_unless_configured(gateway: Gateway) -> None:
    with gateway.client() as c:
        r = c.options(
            "/api/docs/Shop/tables",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("size", [1_100_000, 4_000_000])
def test_a_body_over_the_limit_gets_its_413_from_a_client_that_sends_it_all_first(
    gateway: Gateway, admin: dict[str, str], size: int
) -> None:
    """urllib (like Dart's http) writes the whole body before it reads the answer: the
    gateway must read the excess rather than close on it (the client would see a reset)."""
    body = json.dumps({"records": [{"fields": {"name": "x" * size}}]}).encode()
    request = urllib.request.Request(
        gateway.url + RECORDS.format(table="Products"),
        data=body,
        method="POST",
        headers={**admin, "Content-Type": "application/json"},
    )
    for _ in range(3):  # a reset is a race: try it more than once
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 413
        assert json.load(refused.value)["error"] == "request entity too large"


BEYOND_64_BITS = str(2**64)
OUT_OF_RANGE = [
    ("GET", f"?limit={BEYOND_64_BITS}", {}, "limit"),
    ("GET", f"?limit={10**30}", {}, "limit"),
    ("GET", f"?limit=-{BEYOND_64_BITS}", {}, "limit"),
    ("GET", f"?offset={BEYOND_64_BITS}", {}, "offset"),
    ("GET", f"?offset=-{BEYOND_64_BITS}", {}, "offset"),
    ("GET", "", {"headers": {"X-Limit": BEYOND_64_BITS}}, "limit"),
    ("GET", f"/{BEYOND_64_BITS}", {}, "rowId"),
    ("GET", "/0", {}, "rowId"),
    ("POST", "/list", {"json": {"limit": 2**64}}, "body.limit"),
    ("POST", "/list", {"json": {"limit": 1e300}}, "body.limit"),
    ("POST", "/list", {"json": {"offset": 2**64}}, "body.offset"),
]


@pytest.mark.parametrize(("method", "tail", "kwargs", "named"), OUT_OF_RANGE)
def test_a_number_out_of_range_is_a_400_naming_it(
    gateway: Gateway,
    admin: dict[str, str],
    method: str,
    tail: str,
    kwargs: dict[str, Any],
    named: str,
) -> None:
    headers = {**admin, **kwargs.get("headers", {})}
    with gateway.client() as c:
        r = c.request(
            method,
            RECORDS.format(table="Products") + tail,
            headers=headers,
            json=kwargs.get("json"),
        )
    assert r.status_code == 400, r.text
    assert named in r.text
