"""A Shop document and config for access-rule tests, and a gateway on either store.

Orders.user is the owner (Ref:Users). Users: 1 admin, 2 clerk (display_name
"🎁"), 3 alice, 5 carol, 6 dave (role user). Orders' owners: 1,2 -> alice,
3,8 -> carol, 4 -> clerk, 5 -> dave, 6 -> nobody (0), 7 -> admin; order 8's
note is "🎁".
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Literal

from fastapi.testclient import TestClient

from gristops.config import Config, parse_config
from gristops.gateway.app import create_app
from gristops.store.server.store import GristServerStore
from tests.conftest import SHOP_GRIST, load_scenario
from tests.support.grist_replay import REPLAY_KEY, replay_server

StoreKind = Literal["embedded", "server"]
STORES: tuple[StoreKind, ...] = ("embedded", "server")
DOC = "Shop"

RULES = """\
roles:
  admin: {"*": [read, create, update, delete]}
  user:
    Products: [read]
    Orders:
      actions: [read, create, update, delete]
      rows: {rec: user, user: id}
      hidden: [total]
      readonly: [note]
      fill: [user]
  clerk:
    Orders:
      actions: [read, update]
      rows: {any: [{rec: user, user: id}, {rec: note, user: display_name}]}
"""

USERS = {"admin": (1, "admin@shop.test"), "clerk": (2, "manager@shop.test"),
         "alice": (3, "alice@shop.test"), "carol": (5, "Carol.Mixed@Shop.Test"),
         "dave": (6, "dave@shop.test")}  # fmt: skip
ROLES = {"admin": "admin", "clerk": "clerk"}


def make_document(path: Path) -> None:
    """Shop.grist with user 2 as the clerk of the "🎁" orders."""
    shutil.copyfile(SHOP_GRIST, path)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE Users SET role = 'clerk', display_name = '🎁' WHERE id = 2")


def config_for(root: Path, base_url: str | None = None, rules: str = RULES) -> Config:
    grist = f"grist: {{document_id: {DOC}}}\n"
    if base_url:
        grist = f"grist: {{document_id: {DOC}, base_url: '{base_url}', api_key: '{REPLAY_KEY}'}}\n"
    return parse_config(f"data_dir: {root / 'data'}\n{grist}{rules}")


class Caller:
    """Requests through the gateway as one user (tokens minted by the app itself)."""

    def __init__(self, client: TestClient, name: str) -> None:
        user_id, email = USERS[name]
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        token = ctx.tokens.issue(user_id, email, ROLES.get(name, "user")).token
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.base = f"/api/docs/{DOC}/tables"

    def get(self, path: str, **params: str):  # type: ignore[no-untyped-def]
        return self.client.get(f"{self.base}/{path}", params=params, headers=self.headers)

    def send(self, method: str, path: str, body: object, **params: str):  # type: ignore[no-untyped-def]
        return self.client.request(
            method, f"{self.base}/{path}", json=body, params=params, headers=self.headers
        )

    def ids(self, **params: str) -> list[int]:
        r = self.get("Orders/records", **params)
        assert r.status_code == 200, r.text
        return [rec["id"] for rec in r.json()["records"]]


@contextmanager
def gateway(
    root: Path,
    kind: StoreKind,
    rules: str = RULES,
    prepare: Callable[[Path], None] | None = None,
) -> Iterator[TestClient]:
    """The gateway app on the embedded store, or on the server store against a replay.

    `prepare` changes the document file before the gateway starts."""
    docs = root / "data" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    make_document(docs / f"{DOC}.grist")
    if prepare is not None:
        prepare(docs / f"{DOC}.grist")
    if kind == "embedded":
        with TestClient(create_app(config_for(root, rules=rules))) as client:
            yield client
        return
    columns = [e for e in load_scenario("read_tables_columns") if e["request"]["method"] == "GET"]
    with replay_server(
        exchanges=columns, ordered=False, doc_id=DOC, records_doc=docs / f"{DOC}.grist"
    ) as server:
        config = config_for(root, server.url, rules)
        store = GristServerStore(config.grist, REPLAY_KEY)
        with TestClient(create_app(config, store=store)) as client:
            yield client
        assert not server.unmatched, server.unmatched
        assert server.received, "the server store never reached the replay"
