"""Three gateways on one PostgreSQL state DB behave as one gateway would, whatever the order.

Hypothesis interleaves logins (right and wrong passwords, up to a lockout),
refreshes, reuses of spent refresh tokens and waits, each on any of three
gateways (AuthServices with their own connection pools and signing-key caches
on a shared PostgreSQL state), and runs the same steps on one gateway over
SQLite: every answer must match. The users table is an in-memory stand-in
shared by the gateways, as a Grist document is (see test_auth_double).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gristops.errors import GristopsError
from gristops.gateway.auth import AuthService, ClientInfo
from gristops.gateway.tokens import TokenService
from gristops.observe.metrics import create_metrics
from gristops.state.db import StateDB
from gristops.state.signing_keys import SigningKeys
from tests.unit.gateway.test_auth_double import Clock, MemoryUsers, make_config, quick_hash

pytestmark = pytest.mark.integration

USERS = [("ann@shop.test", "ann-pass-1"), ("ben@shop.test", "ben-pass-2")]
AUTH = {"max_failures_per_account": 3, "lockout": 300, "refresh_token_ttl": 300}
CLIENT = ClientInfo("10.0.0.7")

login = st.tuples(st.just("login"), st.integers(0, 1), st.booleans(), st.integers(0, 2))
refresh = st.tuples(st.just("refresh"), st.integers(0, 3), st.booleans(), st.integers(0, 2))
wait = st.tuples(st.just("wait"), st.sampled_from([1, 200, 400]), st.just(False), st.just(0))
STEPS = st.lists(st.one_of(login, refresh, refresh, wait), min_size=1, max_size=25)


def users() -> MemoryUsers:
    rows = [
        {"id": n + 1, "fields": {"email": email, "password_hash": quick_hash(pw),
                                 "role": "user", "active": True, "display_name": email}}
        for n, (email, pw) in enumerate(USERS)
    ]  # fmt: skip
    return MemoryUsers(rows)


class Deployment:
    """Gateways over state DBs at `locations` (one gateway per location), one clock."""

    def __init__(self, root: Path, locations: list[Path | str]) -> None:
        self.clock = Clock()
        self.states = [StateDB(where) for where in locations]
        config = make_config(root, **AUTH)
        shared = users()
        self.gateways = [
            AuthService(config, shared, state, TokenService(SigningKeys(state), 900),  # type: ignore[arg-type]
                        create_metrics(), clock=self.clock)
            for state in self.states
        ]  # fmt: skip
        self.sessions: list[list[str]] = []

    def reset(self, now: float) -> None:
        self.clock.now = now
        self.sessions = []
        for state in self.states[:1]:  # they share one state DB, or there is only one
            with state.transaction() as conn:
                for table in ("refresh_tokens", "refresh_families", "login_failures"):
                    conn.execute(f"DELETE FROM {table}")

    async def step(self, kind: str, which: int, flag: bool, gateway: int) -> str:
        auth = self.gateways[gateway % len(self.gateways)]
        try:
            if kind == "wait":
                self.clock.advance(which)
                return "waited"
            if kind == "login":
                email, password = USERS[which]
                pair = await auth.login(email, password if flag else "wrong-pass", CLIENT)
                self.sessions.append([pair.refresh_token])
                return "logged in"
            if not self.sessions:
                return "no session"
            tokens = self.sessions[which % len(self.sessions)]
            token = tokens[-2] if flag and len(tokens) > 1 else tokens[-1]  # flag: reuse
            pair = await auth.refresh(token, CLIENT)
            tokens.append(pair.refresh_token)
            return "refreshed"
        except GristopsError as exc:
            return f"{type(exc).__name__}: {exc.message}"


@pytest.fixture
def deployments(tmp_path: Path, postgres_url: str) -> tuple[Deployment, Deployment]:
    fleet = Deployment(tmp_path / "fleet", [postgres_url] * 3)
    single = Deployment(tmp_path / "single", [tmp_path / "single" / "state.db"])
    return fleet, single


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_three_gateways_answer_as_one_would(
    deployments: tuple[Deployment, Deployment], steps: list[tuple[str, int, bool, int]]
) -> None:
    fleet, single = deployments
    now = fleet.clock.now
    fleet.reset(now)
    single.reset(now)

    async def run() -> list[tuple[Any, ...]]:
        answers = [(step, await fleet.step(*step), await single.step(*step)) for step in steps]
        # Then every login refreshes once more: the same ones must still be alive.
        last = [("refresh", n, False, n) for n in range(len(fleet.sessions))]
        return answers + [
            (step, await fleet.step(*step), await single.step(*step)) for step in last
        ]

    for step, on_fleet, on_one in anyio.run(run):
        assert on_fleet == on_one, f"{step}: three gateways said {on_fleet!r}, one {on_one!r}"
