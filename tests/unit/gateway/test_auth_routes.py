"""/auth/* over HTTP through the gateway app: shapes, headers and status codes a client sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gristops.gateway.app import create_app
from gristops.state.audit import AuthAudit
from tests.unit.gateway.test_auth_double import MemoryUsers, make_config, quick_hash


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = make_config(tmp_path, max_failures_per_account=2, lockout=120)
    users = MemoryUsers()
    users.rows[3]["password_hash"] = quick_hash("alice-pass-1")
    app = create_app(config, store=users)  # type: ignore[arg-type]
    with TestClient(app, client=("192.0.2.10", 50000)) as c:
        yield c


def login(client: TestClient, password: str = "alice-pass-1") -> dict[str, object]:
    r = client.post("/auth/login", json={"email": "alice@shop.test", "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_login_answers_a_bearer_token_pair_that_no_cache_keeps(client: TestClient) -> None:
    r = client.post("/auth/login", json={"email": "Alice@Shop.Test", "password": "alice-pass-1"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store"
    [event] = AuthAudit(client.app.state.ctx.state).recent()  # type: ignore[attr-defined]
    assert (event.event, event.outcome, event.user_id) == ("login", "success", 3)
    assert event.client == "192.0.2.10"
    assert event.request_id == r.headers["x-request-id"]


def test_me_shows_the_user_and_the_permissions_of_the_role(client: TestClient) -> None:
    token = login(client)["access_token"]
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {
        "id": 3,
        "email": "alice@shop.test",
        "role": "user",
        "permissions": {"Products": ["read"], "Orders": ["read", "create"]},
    }


def test_me_without_or_with_a_bad_token_is_401_with_an_error(client: TestClient) -> None:
    r = client.get("/auth/me")
    assert r.status_code == 401
    assert "authentication required" in r.json()["error"]
    r = client.get("/auth/me", headers={"Authorization": "Bearer secret.looking.token"})
    assert r.status_code == 401
    assert "secret.looking.token" not in r.text


def test_wrong_password_is_401_and_repeated_failures_are_429_with_retry_after(
    client: TestClient,
) -> None:
    for _ in range(2):
        r = client.post("/auth/login", json={"email": "alice@shop.test", "password": "nope-nope"})
        assert r.status_code == 401
        assert r.json() == {"error": "invalid email or password"}
    r = client.post("/auth/login", json={"email": "alice@shop.test", "password": "alice-pass-1"})
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 120
    assert "too many failed logins" in r.json()["error"]


def test_refresh_rotates_and_logout_ends_the_login(client: TestClient) -> None:
    first = login(client)
    r = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert r.headers["cache-control"] == "no-store"
    r = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    assert "already used" in r.json()["error"]
    again = login(client)
    r = client.post("/auth/logout", json={"refresh_token": again["refresh_token"]})
    assert r.status_code == 204
    assert r.content == b""
    r = client.post("/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert r.status_code == 401


def test_a_body_without_the_fields_is_400(client: TestClient) -> None:
    r = client.post("/auth/login", json={"email": "alice@shop.test"})
    assert r.status_code == 400
    assert "password" in r.json()["error"]


def test_the_openapi_document_describes_the_auth_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    login_op = spec["paths"]["/auth/login"]["post"]
    assert {"200", "401", "429"} <= set(login_op["responses"])
    assert "requestBody" in login_op
    assert {"/auth/refresh", "/auth/logout", "/auth/me"} <= set(spec["paths"])
