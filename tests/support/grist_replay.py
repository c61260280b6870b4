"""A replay of recorded real-Grist exchanges, served over HTTP on 127.0.0.1.

This is not Grist. What it answers under /api/docs/ is a recording of
grist-core 1.7.17 (tests/fixtures/grist/scenarios/*.json): a request is
matched by method, path (the served doc id standing for `{docId}`), query,
`X-` headers, JSON body and the kind of Authorization it carries, against the
recorded exchanges in order (ordered mode: each exchange answers once, so the
write scenario's "state after" reads answer the recorded state), or against
any of them (unordered mode, for load tests). A request nobody recorded gets
HTTP 599 and is listed in `unmatched`, so a test fails loudly.

Authorization is checked as Grist did: a valid `Bearer <key>` passes; no
header, an unknown key or another scheme gets the answer Grist gave to that
kind in read_errors.json.

Stand-ins, not recordings:
- `POST /api/docs/{doc}/sql` (no scenario recorded it) runs the statement on
  the fixture Shop.grist opened read-only with sqlite3 and answers in Grist's
  shape `{"statement", "records": [{"fields"}]}`; it does not see writes
  replayed before it, and BLOB cells come back as null. With `sql_doc=None`
  it answers `404 not found: <path>`, as Grist does for a route it lacks.
- With `records_doc`, requests nobody recorded under
  `/api/docs/{doc}/tables/{table}/records` (GET, POST, PATCH, PUT, and
  `POST .../records/delete`) are answered by gristops' own file store on a
  copy of that document, whose answers follow the recorded Grist ones
  (tests/unit/store/test_gristfile_conformance.py). No grist-core can run
  here; this lets server-store tests send any filter, sort or write and
  read back what it did.
- Faults: `max_parallel_per_doc` answers 429 with Grist's text (from its
  DocApi) when more requests for one document are in flight; `latency` slows
  every answer; `fail_next(n, status)` answers n plain-text 5xx;
  `down()` / `up()` stop and restart listening (connection refused between).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gristops.errors import GristopsError
from gristops.gateway import params
from gristops.store.file.store import GristFileStore
from tests.conftest import SHOP_GRIST, expand_body, load_scenario

REPLAY_KEY = "replay-owner-key"
UNMATCHED_STATUS = 599
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]

_RECORDS_PATH = re.compile(r"^/api/docs/[^/]+/tables/([^/]+)/records(/delete)?$")
RequestKey = tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str, str]


@dataclass(frozen=True)
class Seen:
    """One request the server answered, and the status it answered with."""

    method: str
    path: str
    status: int


def _auth_answers() -> dict[str, dict[str, Any]]:
    """Grist's recorded answer to each kind of bad Authorization."""
    answers: dict[str, dict[str, Any]] = {}
    for exchange in load_scenario("read_errors"):
        kind = exchange["request"].get("auth")
        if kind and kind not in answers:
            answers[kind] = exchange["response"]
    return answers


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def _doc_of(path: str) -> str:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[1:3] == ["api", "docs"] else ""


class ReplayServer:
    """Serves recorded exchanges on 127.0.0.1 and a free port; see the module docstring."""

    def __init__(
        self,
        exchanges: list[dict[str, Any]],
        *,
        doc_id: str = "replayShopDoc",
        api_key: str = REPLAY_KEY,
        ordered: bool = True,
        sql_doc: Path | None = SHOP_GRIST,
        max_parallel_per_doc: int | None = None,
        latency: float = 0.0,
        records_doc: Path | None = None,
    ) -> None:
        self.doc_id = doc_id
        self.api_key = api_key
        self.ordered = ordered
        self.sql_doc = sql_doc
        self.max_parallel_per_doc = max_parallel_per_doc
        self.latency = latency
        self.received = 0
        self.seen: list[Seen] = []
        self.unmatched: list[str] = []
        self.peak_in_flight: Counter[str] = Counter()
        self._exchanges = exchanges
        self._keys = [_recorded_key(exchange["request"], doc_id) for exchange in exchanges]
        self._cursor = 0
        self._in_flight: Counter[str] = Counter()
        self._failures: list[tuple[str, int, dict[str, str]]] = []
        self._auth = _auth_answers()
        self._app = Starlette(routes=[Route("/{path:path}", self._handle, methods=METHODS)])
        self._records_dir: tempfile.TemporaryDirectory[str] | None = None
        self._records: GristFileStore | None = None
        if records_doc is not None:
            self._records_dir = tempfile.TemporaryDirectory()
            shutil.copyfile(records_doc, Path(self._records_dir.name) / f"{doc_id}.grist")
        self._port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def statuses(self) -> Counter[int]:
        return Counter(seen.status for seen in self.seen)

    def fail_next(
        self, count: int, status: int = 503, retry_after: int | None = None, method: str = ""
    ) -> None:
        """Answer the next `count` requests (of `method`, if given) with `status`, in plain text."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self._failures.extend([(method, status, headers)] * count)

    # -- lifecycle -------------------------------------------------------

    def up(self) -> None:
        """Listen (again, on the same port once it has one) and wait until serving."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = server = uvicorn.Server(config)
        self._socket = sock
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.down()
                raise RuntimeError("the replay server did not start")
            time.sleep(0.01)

    def down(self) -> None:
        """Stop listening: clients now get connection refused."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def close(self) -> None:
        """Close the file store and remove the copy of `records_doc`."""
        if self._records is not None:
            asyncio.run(self._records.aclose())
            self._records = None
        if self._records_dir is not None:
            self._records_dir.cleanup()

    # -- answering -------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        self.received += 1
        path = request.url.path
        raw = await request.body()
        failure = next((f for f in self._failures if f[0] in ("", request.method)), None)
        if failure is not None:
            self._failures.remove(failure)
            response: Response = PlainTextResponse("Simulated failure", failure[1], failure[2])
        else:
            response = await self._limited(request, path, raw)
        self.seen.append(Seen(request.method, path, response.status_code))
        return response

    async def _limited(self, request: Request, path: str, raw: bytes) -> Response:
        doc = _doc_of(path)
        self._in_flight[doc] += 1
        self.peak_in_flight[doc] = max(self.peak_in_flight[doc], self._in_flight[doc])
        try:
            if self.max_parallel_per_doc and self._in_flight[doc] > self.max_parallel_per_doc:
                message = f"Too many backlogged requests for document {doc} - try again later?"
                return JSONResponse({"error": message}, 429)
            if self.latency:
                await asyncio.sleep(self.latency)
            return await self._answer(request, path, raw)
        finally:
            self._in_flight[doc] -= 1

    def _auth_kind(self, header: str | None) -> str:
        if header is None:
            return "none"
        scheme, _, key = header.partition(" ")
        if scheme != "Bearer":
            return "token_scheme"
        return "ok" if key == self.api_key else "bearer_wrong_key"

    async def _answer(self, request: Request, path: str, raw: bytes) -> Response:
        auth = self._auth_kind(request.headers.get("authorization"))
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if auth == "ok" and request.method == "POST" and path.endswith("/sql"):
            return self._sql(path, body)
        query = dict(request.query_params)
        key = request_key(request.method, path, query, request.headers, _canonical(body), auth)
        exchange = self._match(key)
        if exchange is not None:
            return self._recorded(exchange["response"])
        if auth != "ok":
            return self._recorded(self._auth[auth])
        found = _RECORDS_PATH.match(path)
        if self._records_dir is not None and found:
            return await self._stand_in(request, found.group(1), bool(found.group(2)), body)
        summary = f"{request.method} {path} query={query} body={raw[:200]!r}"
        self.unmatched.append(summary)
        return JSONResponse(
            {"error": f"replay: no recorded exchange matches {summary}"}, UNMATCHED_STATUS
        )

    def _match(self, key: RequestKey) -> dict[str, Any] | None:
        start = self._cursor if self.ordered else 0
        for index in range(start, len(self._exchanges)):
            if self._keys[index] == key:
                if self.ordered:
                    self._cursor = index + 1
                return self._exchanges[index]
        return None

    def _recorded(self, response: dict[str, Any]) -> Response:
        body = response["body"]
        if isinstance(body, str) and "json" not in response["content_type"]:
            return PlainTextResponse(body, response["status"])
        text = json.dumps(body, ensure_ascii=False).replace("{docId}", self.doc_id)
        return Response(text, response["status"], media_type="application/json; charset=utf-8")

    async def _stand_in(self, request: Request, table: str, delete: bool, body: Any) -> Response:
        """A records request answered by the file store (see the module doc)."""
        assert self._records_dir is not None
        if self._records is None:
            self._records = GristFileStore(Path(self._records_dir.name))
        store, doc, q = self._records, self.doc_id, request.query_params
        try:
            if delete:
                await store.delete_records(doc, table, params.delete_payload(body))
                return JSONResponse(None)
            if request.method == "GET":
                query = params.record_query(
                    q.get("filter"), q.get("sort"), q.get("limit"), None, q.get("hidden"),
                    q.get("cellFormat"), None, None,
                )  # fmt: skip
                return JSONResponse({"records": await store.fetch_records(doc, table, query)})
            if request.method == "POST":
                ids = await store.add_records(doc, table, params.add_payload(body))
                return JSONResponse({"records": [{"id": i} for i in ids]})
            if request.method == "PATCH":
                await store.update_records(doc, table, params.update_payload(body))
                return JSONResponse(None)
            options = params.upsert_options(
                q.get("noadd"), q.get("noupdate"), q.get("onmany"), q.get("allow_empty_require")
            )
            result = await store.upsert_records(doc, table, params.upsert_payload(body), options)
            return JSONResponse(result.to_json())
        except GristopsError as exc:
            return JSONResponse({"error": exc.message}, exc.http_status)

    def _sql(self, path: str, body: Any) -> Response:
        if self.sql_doc is None:
            return JSONResponse({"error": f"not found: {path}"}, 404)
        sql, args = body["sql"], body.get("args", [])
        uri = f"{self.sql_doc.as_uri()}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                cursor = db.execute(sql, args)
                names = [column[0] for column in cursor.description]
                rows = cursor.fetchall()
        except sqlite3.Error as exc:
            return JSONResponse({"error": f"SQLITE_ERROR: {exc}"}, 400)
        records = [
            {
                "fields": {
                    n: None if isinstance(v, bytes) else v for n, v in zip(names, row, strict=True)
                }
            }
            for row in rows
        ]
        return JSONResponse({"statement": sql, "records": records})


def request_key(
    method: str,
    path: str,
    query: dict[str, str],
    headers: Mapping[str, str],
    body: str,
    auth: str,
) -> RequestKey:
    """What a request is matched on; `X-` headers count, the others do not."""
    x_headers = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-"))
    return (method, path, tuple(sorted(query.items())), tuple(x_headers), body, auth)


def _recorded_key(request: dict[str, Any], doc_id: str) -> RequestKey:
    if "body_raw" in request:
        body = _canonical(request["body_raw"])
    elif request.get("body_template"):
        body = _canonical(expand_body(request["body"]))
    else:
        body = _canonical(request["body"])
    path = request["path"].replace("{docId}", doc_id)
    auth = request.get("auth", "ok")
    return request_key(request["method"], path, request["query"], request["headers"], body, auth)


@contextlib.contextmanager
def replay_server(
    scenario: str | None = None, *, exchanges: list[dict[str, Any]] | None = None, **options: Any
) -> Iterator[ReplayServer]:
    """A running ReplayServer of a scenario's exchanges (or given ones); always stopped."""
    server = ReplayServer(
        exchanges if exchanges is not None else load_scenario(scenario or ""), **options
    )
    server.up()
    try:
        yield server
    finally:
        server.down()
        server.close()
