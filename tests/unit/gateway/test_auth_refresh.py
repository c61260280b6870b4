"""Refresh tokens: single use, rotated on every refresh, a reused one revokes its login."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.errors import AuthError
from gristops.gateway.auth import ClientInfo, TokenPair
from tests.unit.gateway.test_auth_double import AuthKit, make_kit, quick_hash

pytestmark = pytest.mark.anyio
HERE = ClientInfo("10.0.0.5")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the gateway runs on uvicorn's asyncio loop


@pytest.fixture
def kit(tmp_path: Path) -> AuthKit:
    kit = make_kit(tmp_path)
    # Alice with a cheap hash: these tests are about refresh tokens, not bcrypt.
    kit.users.rows[3]["password_hash"] = quick_hash("alice-pass-1")
    return kit


async def login(kit: AuthKit) -> TokenPair:
    return await kit.auth.login("alice@shop.test", "alice-pass-1", HERE)


async def refused(kit: AuthKit, token: str) -> str:
    with pytest.raises(AuthError) as err:
        await kit.auth.refresh(token, HERE)
    assert token not in err.value.message
    return err.value.message


async def test_each_refresh_returns_a_new_pair_and_spends_the_old_token(kit: AuthKit) -> None:
    first = await login(kit)
    second = await kit.auth.refresh(first.refresh_token, HERE)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert kit.tokens.verify(second.access_token).user_id == 3
    third = await kit.auth.refresh(second.refresh_token, HERE)
    assert kit.tokens.verify(third.access_token).email == "alice@shop.test"
    assert kit.outcomes("refresh") == ["success", "success"]


async def test_reusing_a_spent_token_revokes_every_token_of_that_login(kit: AuthKit) -> None:
    first = await login(kit)
    other_device = await login(kit)
    second = await kit.auth.refresh(first.refresh_token, HERE)
    assert "already used" in await refused(kit, first.refresh_token)
    # The thief or the owner, whoever holds the newest token, must log in again.
    assert "invalid or expired" in await refused(kit, second.refresh_token)
    assert kit.outcomes("refresh") == ["success", "reuse_detected", "revoked"]
    assert kit.count("refresh", "reuse_detected") == 1
    # Another login of the same user keeps working.
    assert await kit.auth.refresh(other_device.refresh_token, HERE)


async def test_logout_ends_the_login_and_ignores_unknown_tokens(kit: AuthKit) -> None:
    pair = await login(kit)
    await kit.auth.logout(pair.refresh_token, HERE)
    await refused(kit, pair.refresh_token)
    await kit.auth.logout(pair.refresh_token)
    await kit.auth.logout("not a token at all")
    assert kit.outcomes("logout") == ["success", "success", "unknown"]


async def test_refresh_tokens_expire(kit: AuthKit) -> None:
    pair = await login(kit)
    kit.clock.advance(kit.config.auth.refresh_token_ttl + 1)
    assert "invalid or expired" in await refused(kit, pair.refresh_token)
    assert kit.outcomes("refresh") == ["expired"]


async def test_a_user_disabled_or_deleted_since_login_cannot_refresh(kit: AuthKit) -> None:
    pair = await login(kit)
    kit.users.rows[3]["active"] = False
    await refused(kit, pair.refresh_token)
    kit.users.rows[3]["active"] = True  # re-enabling does not revive the revoked login
    with pytest.raises(AuthError):
        await kit.auth.refresh(pair.refresh_token, HERE)
    again = await login(kit)
    del kit.users.rows[3]
    await refused(kit, again.refresh_token)
    assert kit.outcomes("refresh") == ["inactive", "revoked", "deleted"]


async def test_a_refresh_carries_the_role_the_table_holds_now(kit: AuthKit) -> None:
    pair = await login(kit)
    kit.users.rows[3]["role"] = "manager"
    fresh = await kit.auth.refresh(pair.refresh_token, HERE)
    assert kit.tokens.verify(fresh.access_token).role == "manager"


async def test_malformed_and_unknown_tokens_are_refused(kit: AuthKit) -> None:
    await refused(kit, "short")
    await refused(kit, "A" * 43)
    assert kit.outcomes("refresh") == ["malformed", "unknown"]
