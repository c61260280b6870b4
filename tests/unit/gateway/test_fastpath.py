"""The reads answered before FastAPI give exactly FastAPI's answers, metrics and log lines.

Two apps serve the same document and the same token keys: one with the fast
path (the default), one with `server.fast_reads: false`. Every request goes
to both; status, headers, body, the access log line and the metrics must match.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from structlog.testing import capture_logs

from gristops.config import parse_config
from gristops.gateway.app import create_app
from gristops.gateway.fastpath import FastReads
from gristops.gateway.tokens import TokenService

ROLES = """\
roles:
  admin: {"*": [read, create, update, delete]}
  user: {Products: [read]}
  customer:
    Orders: {actions: [read], rows: {rec: user, user: id}, hidden: [note]}
"""
PRODUCTS = "/api/docs/Shop/tables/Products"
METRICS = (
    "gristops_http_requests_total",
    "gristops_auth_events_total",
    "gristops_response_cache_hits_total",
    "gristops_response_cache_misses_total",
    "gristops_response_cache_not_modified_total",
)


@dataclass
class Twins:
    fast: httpx.AsyncClient
    slow: httpx.AsyncClient
    apps: tuple[FastAPI, FastAPI]
    tokens: TokenService

    def bearer(self, user_id: int, role: str, clock: float = 0.0) -> dict[str, str]:
        self.tokens._clock = lambda: time.time() + clock
        token = self.tokens.issue(user_id, f"u{user_id}@shop.test", role).token
        return {"Authorization": f"Bearer {token}"}

    async def same(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """The answer both apps give (asserted equal), with equal access log lines."""
        headers = {"X-Request-ID": "fast-slow-0001", **(headers or {})}
        answers, lines = [], []
        for client in (self.fast, self.slow):
            with capture_logs() as logs:
                answers.append(await client.get(path, headers=headers))
            lines.append([{**e, "duration_ms": 0} for e in logs if e["event"] == "request"])
        fast, slow = answers
        assert (fast.status_code, fast.headers.multi_items(), fast.content) == (
            slow.status_code,
            slow.headers.multi_items(),
            slow.content,
        ), path
        assert lines[0] == lines[1] and len(lines[0]) == 1
        return fast

    def metrics(self) -> list[dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
        """Each app's request, auth and cache counters (their labels too)."""
        found = []
        for app in self.apps:
            samples = {}
            for family in app.state.ctx.metrics.registry.collect():
                for s in family.samples:
                    if s.name in METRICS:
                        samples[s.name, tuple(sorted(s.labels.items()))] = s.value
            found.append(samples)
        return found


@pytest.fixture
async def twins(shop_docs: Path) -> AsyncIterator[Twins]:
    base = f"data_dir: {shop_docs.parent}\ngrist: {{document_id: Shop}}\n{ROLES}"
    apps = (
        create_app(parse_config(base)),
        create_app(parse_config(base + "server: {fast_reads: false}\n")),
    )
    fast, slow = (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for app in apps
    )
    async with fast, slow:
        yield Twins(fast, slow, apps, apps[0].state.ctx.tokens)


async def test_misses_hits_and_304s_are_the_same(twins: Twins) -> None:
    admin = twins.bearer(1, "admin")
    for path in (
        "/api/docs/Shop/tables",
        PRODUCTS + "/columns",
        PRODUCTS + "/columns?hidden=true",
        PRODUCTS + "/records",
        PRODUCTS + '/records?filter={"category":["Fruit"]}&sort=-price&limit=2',
    ):
        miss = await twins.same(path, admin)
        hit = await twins.same(path, admin)
        assert miss.status_code == hit.status_code == 200 and miss.content == hit.content
        etag = {**admin, "If-None-Match": hit.headers["etag"]}
        unchanged = await twins.same(path, etag)
        assert unchanged.status_code == 304 and unchanged.content == b""
    fast, slow = twins.metrics()
    assert fast == slow
    assert fast["gristops_response_cache_hits_total", ()] == 5


async def test_refusals_are_the_same(twins: Twins) -> None:
    records = PRODUCTS + "/records"
    refused = {
        "no token": (records, {}),
        "not bearer": (records, {"Authorization": "Basic YTpi"}),
        "bad token": (records, {"Authorization": "Bearer not.a.jwt"}),
        "expired token": (records, twins.bearer(1, "admin", clock=-7200)),
        "forbidden table": ("/api/docs/Shop/tables/Orders/records", twins.bearer(3, "user")),
        "forbidden columns": ("/api/docs/Shop/tables/Orders/columns", twins.bearer(3, "user")),
        "unknown document": ("/api/docs/Nope/tables", twins.bearer(1, "admin")),
        "unknown table": ("/api/docs/Shop/tables/Nope/records", twins.bearer(1, "admin")),
        "bad filter": (records + "?filter=[1]", twins.bearer(1, "admin")),
        "bad hidden flag": (PRODUCTS + "/columns?hidden=maybe", twins.bearer(1, "admin")),
        "bad document id": ("/api/docs/-x/tables", twins.bearer(1, "admin")),
    }
    statuses = {}
    for name, (path, headers) in refused.items():
        answer = await twins.same(path, headers)
        statuses[name] = answer.status_code
        assert "error" in answer.json(), name
    assert statuses["no token"] == statuses["expired token"] == 401
    assert statuses["forbidden table"] in (403, 404)
    assert statuses["bad filter"] == statuses["bad hidden flag"] == 400
    fast, slow = twins.metrics()
    assert fast == slow


async def test_a_row_rule_user_gets_their_own_answer_and_etag(
    twins: Twins, shop_docs: Path
) -> None:
    # The index the store would otherwise create after the first read: that commit would
    # change the document's version (and the ETag) between the two apps' answers.
    with sqlite3.connect(shop_docs / "Shop.grist") as db:
        db.execute("CREATE INDEX gristops_rule_Orders_user ON Orders (user)")
    orders = "/api/docs/Shop/tables/Orders/records"
    first, second = twins.bearer(3, "customer"), twins.bearer(5, "customer")
    mine = await twins.same(orders, first)
    theirs = await twins.same(orders, second)
    assert mine.status_code == theirs.status_code == 200
    assert mine.headers["etag"] != theirs.headers["etag"]
    assert {r["fields"]["user"] for r in mine.json()["records"]} == {3}
    assert all("note" not in r["fields"] for r in mine.json()["records"])
    # Another user's ETag is not a match: the full answer, never a 304.
    crossed = await twins.same(orders, {**second, "If-None-Match": mine.headers["etag"]})
    assert crossed.status_code == 200 and crossed.content == theirs.content


async def test_the_polled_reads_never_reach_fastapi_and_the_rest_always_does(
    twins: Twins,
) -> None:
    reached: list[str] = []

    async def fastapi(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await Response(status_code=204)(scope, receive, send)

    layer = FastReads(fastapi, twins.apps[0].state.ctx)
    admin = twins.bearer(1, "admin")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=layer), base_url="http://t"
    ) as c:
        for path in ("/api/docs/Shop/tables", PRODUCTS + "/columns", PRODUCTS + "/records"):
            assert (await c.get(path, headers=admin)).status_code == 200
        assert (await c.get(PRODUCTS + "/records", headers={})).status_code == 401
        for method, path in (
            ("POST", PRODUCTS + "/records"),
            ("HEAD", PRODUCTS + "/records"),
            ("GET", PRODUCTS + "/records/1"),
            ("GET", "/api/docs/-bad/tables"),
            ("GET", "/auth/me"),
        ):
            assert (await c.request(method, path, headers=admin)).status_code == 204
    assert reached == [
        "POST " + PRODUCTS + "/records",
        "HEAD " + PRODUCTS + "/records",
        "GET " + PRODUCTS + "/records/1",
        "GET /api/docs/-bad/tables",
        "GET /auth/me",
    ]
