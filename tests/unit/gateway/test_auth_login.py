"""Logging in against the users table: fixture hashes, refusals that all look alike, throttling."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import structlog

from gristops.errors import AuthError, Forbidden, TooManyRequests, Unavailable
from gristops.gateway import auth as auth_module
from gristops.gateway.auth import BAD_CREDENTIALS, ClientInfo, email_digest
from gristops.gateway.passwords import hash_cost
from tests.unit.gateway.test_auth_double import PASSWORDS, AuthKit, make_kit, quick_hash

pytestmark = pytest.mark.anyio
HERE = ClientInfo("10.0.0.5", "req-1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the gateway runs on uvicorn's asyncio loop


@pytest.fixture
def kit(tmp_path: Path) -> AuthKit:
    return make_kit(tmp_path)


def add_user(kit: AuthKit, email: str, password: str, role: str = "user", **extra: object) -> int:
    row_id = max(kit.users.rows) + 1
    kit.users.rows[row_id] = {
        "email": email,
        "password_hash": quick_hash(password),
        "role": role,
        "active": True,
        **extra,
    }
    return row_id


async def refusal(kit: AuthKit, email: str, password: str, client: ClientInfo = HERE) -> str:
    with pytest.raises(AuthError) as err:
        await kit.auth.login(email, password, client)
    return err.value.message


@pytest.mark.parametrize(
    ("typed", "stored", "user_id", "role"),
    [
        ("admin@shop.test", "admin@shop.test", 1, "admin"),  # $2b$12$
        ("manager@shop.test", "manager@shop.test", 2, "manager"),  # $2a$12$ as Dart writes it
        ("dave@shop.test", "dave@shop.test", 6, "user"),  # non-ASCII password
        ("carol.mixed@shop.test", "Carol.Mixed@Shop.Test", 5, "user"),  # case differs
        ("  CAROL.MIXED@SHOP.TEST ", "Carol.Mixed@Shop.Test", 5, "user"),
    ],
)
async def test_fixture_users_log_in_with_their_recorded_hashes(
    kit: AuthKit, typed: str, stored: str, user_id: int, role: str
) -> None:
    pair = await kit.auth.login(typed, PASSWORDS[stored], HERE)
    claims = kit.tokens.verify(pair.access_token)
    assert (claims.user_id, claims.email, claims.role) == (user_id, stored, role)
    assert pair.expires_in == kit.config.auth.access_token_ttl
    assert pair.refresh_expires_in == kit.config.auth.refresh_token_ttl
    assert kit.outcomes("login") == ["success"]
    assert kit.count("login", "success") == 1
    # The user was looked up by email, not by reading the whole table.
    assert kit.users.lookups == [("email", typed.strip())]


async def test_php_style_2y_hashes_are_accepted(kit: AuthKit) -> None:
    row_id = add_user(kit, "php@shop.test", "from-php-app")
    kit.users.rows[row_id]["password_hash"] = "$2y$" + kit.users.rows[row_id]["password_hash"][4:]
    pair = await kit.auth.login("php@shop.test", "from-php-app", HERE)
    assert kit.tokens.verify(pair.access_token).user_id == row_id


async def test_inactive_unknown_and_wrong_password_get_the_same_answer(kit: AuthKit) -> None:
    inactive = await refusal(kit, "bob@shop.test", PASSWORDS["bob@shop.test"])
    wrong = await refusal(kit, "alice@shop.test", "not-her-password")
    unknown = await refusal(kit, "nobody@shop.test", "whatever-123")
    assert inactive == wrong == unknown == BAD_CREDENTIALS
    assert kit.outcomes("login") == ["inactive", "bad_credentials", "bad_credentials"]
    assert kit.count("login", "bad_credentials") == 2
    assert kit.count("login", "inactive") == 1


async def test_an_unknown_email_costs_a_bcrypt_check_of_the_configured_cost(
    kit: AuthKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    costs: list[int] = []
    real_check = auth_module.check_password

    def counting_check(password: str, stored_hash: str) -> bool:
        costs.append(hash_cost(stored_hash))
        return real_check(password, stored_hash)

    monkeypatch.setattr(auth_module, "check_password", counting_check)
    await refusal(kit, "nobody@shop.test", "whatever-123")
    await refusal(kit, "alice@shop.test", "whatever-123")
    assert costs == [kit.config.auth.bcrypt_rounds, 12]


async def test_a_user_with_a_role_not_in_the_config_cannot_log_in(kit: AuthKit) -> None:
    add_user(kit, "auditor@shop.test", "auditor-pass-1", role="auditor")
    assert await refusal(kit, "auditor@shop.test", "auditor-pass-1") == BAD_CREDENTIALS
    assert kit.outcomes("login") == ["unknown_role"]


async def test_a_misconfigured_users_table_is_a_503_not_a_client_error(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, users_table="Members")
    with pytest.raises(Unavailable) as err:
        await kit.auth.login("alice@shop.test", "alice-pass-1", HERE)
    assert "users table" in err.value.message
    assert "auth.users_table" in err.value.hint


async def test_two_rows_with_one_email_log_nobody_in(kit: AuthKit) -> None:
    add_user(kit, "ALICE@shop.test", "alice-pass-1")
    assert await refusal(kit, "alice@shop.test", "alice-pass-1") == BAD_CREDENTIALS


async def test_brute_force_on_an_account_is_throttled_until_the_lockout_ends(
    tmp_path: Path,
) -> None:
    kit = make_kit(tmp_path, max_failures_per_account=3, lockout=60, failure_window=600)
    add_user(kit, "eve@shop.test", "right-password")
    for n in range(3):
        await refusal(kit, "eve@shop.test", f"guess-{n}", ClientInfo(f"10.0.1.{n}"))
    with pytest.raises(TooManyRequests) as err:  # even the right password now waits
        await kit.auth.login("EVE@shop.test", "right-password", ClientInfo("10.0.2.1"))
    assert 0 < err.value.retry_after <= 60
    assert err.value.http_status == 429
    kit.clock.advance(30)
    with pytest.raises(TooManyRequests) as err:
        await kit.auth.login("eve@shop.test", "right-password", HERE)
    assert err.value.retry_after <= 30
    kit.clock.advance(31)
    pair = await kit.auth.login("eve@shop.test", "right-password", HERE)
    assert kit.tokens.verify(pair.access_token).email == "eve@shop.test"
    assert kit.outcomes("login")[-3:] == ["throttled", "throttled", "success"]
    # Success forgot the account's failures: three more are needed to lock it again.
    for n in range(2):
        await refusal(kit, "eve@shop.test", f"again-{n}")
    assert (await kit.auth.login("eve@shop.test", "right-password", HERE)).access_token


async def test_one_address_guessing_many_accounts_is_throttled(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, max_failures_per_client=4, lockout=120)
    add_user(kit, "frank@shop.test", "frank-pass-1")
    attacker = ClientInfo("203.0.113.7")
    for email in ("a@x.test", "b@x.test", "c@x.test", "d@x.test"):
        await refusal(kit, email, "password-guess", attacker)
    with pytest.raises(TooManyRequests):
        await kit.auth.login("frank@shop.test", "frank-pass-1", attacker)
    # Another address is not affected, and neither is the account.
    assert await kit.auth.login("frank@shop.test", "frank-pass-1", ClientInfo("198.51.100.1"))
    kit.clock.advance(121)
    assert await kit.auth.login("frank@shop.test", "frank-pass-1", attacker)


async def test_failures_older_than_the_window_do_not_count(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, max_failures_per_account=2, failure_window=100, lockout=50)
    add_user(kit, "frank@shop.test", "frank-pass-1")
    await refusal(kit, "frank@shop.test", "wrong-one")
    kit.clock.advance(101)
    await refusal(kit, "frank@shop.test", "wrong-two")
    assert await kit.auth.login("frank@shop.test", "frank-pass-1", HERE)


async def test_no_password_token_or_email_reaches_the_audit_rows_or_the_logs(
    kit: AuthKit,
) -> None:
    with structlog.testing.capture_logs() as logs:
        await refusal(kit, "alice@shop.test", "typo-secret-99")
        pair = await kit.auth.login("alice@shop.test", "alice-pass-1", HERE)
        second = await kit.auth.refresh(pair.refresh_token, HERE)
        await kit.auth.logout(second.refresh_token, HERE)
    stored, logged = kit.dump(), repr(logs)
    for secret in (
        "typo-secret-99",
        "alice-pass-1",
        pair.access_token,
        pair.refresh_token,
        second.refresh_token,
        "alice@shop.test",
    ):
        assert secret not in stored
        assert secret not in logged
    with kit.state.reading() as conn:
        row = conn.execute(
            "SELECT email_hash, client, request_id FROM auth_events WHERE outcome = 'success'"
        ).fetchone()
    assert row == (email_digest("alice@shop.test"), "10.0.0.5", "req-1")


async def test_bearer_headers_give_the_principal_or_a_clear_refusal(kit: AuthKit) -> None:
    pair = await kit.auth.login("manager@shop.test", PASSWORDS["manager@shop.test"], HERE)
    who = kit.auth.principal_from_header(f"Bearer {pair.access_token}")
    assert (who.user_id, who.email, who.role) == (2, "manager@shop.test", "manager")
    assert kit.auth.principal_from_header(f"bearer  {pair.access_token}") == who
    cases = {
        None: "authentication required",
        "": "authentication required",
        f"Token {pair.access_token}": "expected 'Bearer'",
        "Bearer ": "expected 'Bearer'",
        f"Basic {pair.access_token}": "expected 'Bearer'",
        "Bearer abc.def.ghi": "invalid access token",
    }
    for header, message in cases.items():
        with pytest.raises(AuthError) as err:
            kit.auth.principal_from_header(header)
        assert message in err.value.message
        assert pair.access_token not in err.value.message
    assert kit.count("access", "success") == 2
    assert kit.count("access", "missing") == 2


async def test_a_token_whose_role_was_removed_from_the_config_is_forbidden(
    kit: AuthKit,
) -> None:
    token = kit.tokens.issue(9, "gone@shop.test", "auditor").token
    with pytest.raises(Forbidden):
        kit.auth.principal_from_header(f"Bearer {token}")


async def test_a_login_storm_leaves_a_core_for_everything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bcrypt checks run at most (cores - 1) at a time on the machine, whichever gateway
    worker takes the login: two services on one data_dir stand for two workers (the
    budget's lock files are per open file, so threads of one process count as others)."""
    running, peak = 0, 0
    lock = threading.Lock()

    def slow_check(password: str, stored_hash: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(auth_module, "check_password", slow_check)
    monkeypatch.setattr(auth_module, "available_cpus", lambda: 3)
    workers = [make_kit(tmp_path), make_kit(tmp_path)]
    results = await asyncio.gather(
        *(
            workers[i % 2].auth.login(
                f"u{i}@shop.test", "whatever-123", ClientInfo(f"10.0.0.{i}", None)
            )
            for i in range(8)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, AuthError) for r in results)
    assert peak == 2
