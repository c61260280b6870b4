"""What the auth unit tests share: a users table in memory standing in for a Store,
a config, a settable clock and an AuthService wired to a real state DB and real keys.

Only the few Store methods that authentication and user management call are
here (find_records, fetch_record, fetch_records, add_records, update_records,
delete_records, aclose). It is a stand-in so these tests stay fast and focused on auth: the
real stores are tested against recorded Grist behaviour in tests/unit/store and
the gateway's integration tests log in through them. Its rows are the Users
table of the Shop fixture document, read from the .grist file itself.
"""

from __future__ import annotations

import copy
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from gristops.config import Config
from gristops.errors import NotFound
from gristops.gateway.auth import AuthService
from gristops.gateway.tokens import TokenService
from gristops.observe.metrics import GatewayMetrics, create_metrics
from gristops.state.db import StateDB
from gristops.state.signing_keys import SigningKeys
from gristops.store.base import Record, RecordQuery
from tests.conftest import SHOP_GRIST

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the gateway runs on uvicorn's asyncio loop


DOC = "Shop"
TABLE = "Users"
# Passwords of the fixture users (tests/fixtures/grist/README.md).
PASSWORDS = {
    "admin@shop.test": "Admin!2024",
    "manager@shop.test": "Manag3r#pass",
    "alice@shop.test": "alice-pass-1",
    "bob@shop.test": "bob-pass-2",
    "Carol.Mixed@Shop.Test": "Carol pass 3",
    "dave@shop.test": "dävé-ünicode-4",
}


def shop_users() -> list[Record]:
    """The Users rows of Shop.grist, as a store returns them."""
    uri = f"file:{SHOP_GRIST}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute(
            "SELECT id, email, password_hash, role, active, display_name FROM Users ORDER BY id"
        ).fetchall()
    return [
        {
            "id": r[0],
            "fields": {
                "email": r[1],
                "password_hash": r[2],
                "role": r[3],
                "active": bool(r[4]),
                "display_name": r[5],
            },
        }
        for r in rows
    ]


def quick_hash(password: str) -> str:
    """A cheap (cost 4) bcrypt hash, for users the tests add."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


class MemoryUsers:
    """The users table in memory (see the module docstring for why it is a stand-in)."""

    def __init__(self, rows: list[Record] | None = None) -> None:
        self.rows: dict[int, dict[str, Any]] = {
            r["id"]: dict(r["fields"]) for r in (shop_users() if rows is None else rows)
        }
        self.lookups: list[tuple[str, str]] = []

    def _check(self, doc_id: str, table_id: str) -> None:
        if doc_id != DOC:
            raise NotFound("document not found")
        if table_id != TABLE:
            raise NotFound(f'Table not found "{table_id}"')

    async def find_records(
        self, doc_id: str, table_id: str, column: str, value: str, casefold: bool = True
    ) -> list[Record]:
        self._check(doc_id, table_id)
        self.lookups.append((column, value))

        def norm(v: object) -> object:
            return v.casefold() if casefold and isinstance(v, str) else v

        return [
            {"id": i, "fields": copy.deepcopy(f)}
            for i, f in sorted(self.rows.items())
            if norm(f.get(column)) == norm(value)
        ]

    async def fetch_record(
        self, doc_id: str, table_id: str, row_id: int, hidden: bool = False
    ) -> Record:
        self._check(doc_id, table_id)
        if row_id not in self.rows:
            raise NotFound(f"record {row_id} not found")
        return {"id": row_id, "fields": copy.deepcopy(self.rows[row_id])}

    async def fetch_records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        self._check(doc_id, table_id)
        return [{"id": i, "fields": copy.deepcopy(f)} for i, f in sorted(self.rows.items())]

    async def add_records(
        self, doc_id: str, table_id: str, records: list[dict[str, Any]]
    ) -> list[int]:
        self._check(doc_id, table_id)
        ids = []
        for fields in records:
            new_id = max(self.rows, default=0) + 1
            self.rows[new_id] = dict(fields)
            ids.append(new_id)
        return ids

    async def update_records(self, doc_id: str, table_id: str, records: list[Record]) -> None:
        self._check(doc_id, table_id)
        for r in records:
            if r["id"] not in self.rows:
                raise NotFound(f"Invalid row id {r['id']}")
        for r in records:
            self.rows[r["id"]].update(r["fields"])

    async def delete_records(self, doc_id: str, table_id: str, row_ids: list[int]) -> None:
        self._check(doc_id, table_id)
        for row_id in row_ids:
            self.rows.pop(row_id)

    async def aclose(self) -> None:
        pass


ROLES = {
    "admin": {"*": ["read", "create", "update", "delete"]},
    "manager": {"*": ["read", "create", "update"]},
    "user": {"Products": ["read"], "Orders": ["read", "create"]},
}


def make_config(root: Path, **auth: Any) -> Config:
    """A config for the Shop document under `root` (bcrypt cost 10, the lowest allowed)."""
    return Config.model_validate(
        {
            "data_dir": str(root / "data"),
            "grist": {"document_id": DOC},
            "roles": ROLES,
            "auth": {"bcrypt_rounds": 10, **auth},
        }
    )


class Clock:
    """A clock the test moves by hand, starting now."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AuthKit:
    config: Config
    users: MemoryUsers
    state: StateDB
    tokens: TokenService
    metrics: GatewayMetrics
    clock: Clock
    auth: AuthService

    def count(self, event: str, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "gristops_auth_events_total", {"event": event, "outcome": outcome}
        )
        return value or 0.0

    def outcomes(self, event: str) -> list[str]:
        """Audit outcomes of `event`, oldest first."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT outcome FROM auth_events WHERE event = ? ORDER BY id", (event,)
            ).fetchall()
        return [r[0] for r in rows]

    def dump(self) -> str:
        """Everything the state DB holds, as SQL text."""
        assert self.state.path is not None  # the kit's state is a SQLite file
        with sqlite3.connect(self.state.path) as conn:
            return "\n".join(conn.iterdump())


def make_kit(root: Path, **auth: Any) -> AuthKit:
    """An AuthService over the fixture users, a fresh state DB, real keys and a hand clock.

    Tokens are issued on the real clock (PyJWT checks them against it); the hand
    clock drives throttling and refresh-token expiry.
    """
    config = make_config(root, **auth)
    users, clock, metrics = MemoryUsers(), Clock(), create_metrics()
    state = StateDB(config.state_path)
    tokens = TokenService(SigningKeys(state), config.auth.access_token_ttl)
    auth_service = AuthService(config, users, state, tokens, metrics, clock=clock)  # type: ignore[arg-type]
    return AuthKit(config, users, state, tokens, metrics, clock, auth_service)


async def test_the_stand_in_finds_emails_case_insensitively_like_the_stores() -> None:
    users = MemoryUsers()
    found = await users.find_records(DOC, TABLE, "email", "carol.mixed@shop.test")
    assert [r["id"] for r in found] == [5]
    assert await users.find_records(DOC, TABLE, "email", "nobody@shop.test") == []
    with pytest.raises(NotFound):
        await users.fetch_record(DOC, TABLE, 99)
