"""A users table in memory, standing in for a Store in the auth and `gristops users` unit tests.

Only the few Store methods that authentication and user management call are
here (find_records, fetch_record, fetch_records, add_records, update_records,
aclose). It is a stand-in so these tests stay fast and focused on auth: the
real stores are tested against recorded Grist behaviour in tests/unit/store and
the gateway's integration tests log in through them. Its rows are the Users
table of the Shop fixture document, read from the .grist file itself.
"""

from __future__ import annotations

import copy
import sqlite3
from typing import Any

import bcrypt
import pytest

from gristops.errors import NotFound
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

    async def aclose(self) -> None:
        pass


async def test_the_stand_in_finds_emails_case_insensitively_like_the_stores() -> None:
    users = MemoryUsers()
    found = await users.find_records(DOC, TABLE, "email", "carol.mixed@shop.test")
    assert [r["id"] for r in found] == [5]
    assert await users.find_records(DOC, TABLE, "email", "nobody@shop.test") == []
    with pytest.raises(NotFound):
        await users.fetch_record(DOC, TABLE, 99)
