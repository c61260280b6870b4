"""GristServerStore against recorded real-Grist exchanges, served by the replay server.

Every recorded exchange that the Store protocol can express is sent through
the store, in recorded order, and the store's answer must be Grist's: the
passed-through JSON for successes, and for errors the matching gristops error
carrying Grist's message. The replay server answers only what was recorded, so
it also proves the store sent exactly the method, path, query and body Grist
received. Exchanges the protocol cannot express (raw malformed bodies,
`records/list`, `X-Sort` headers, ...) are listed in NOT_EXPRESSIBLE.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gristops.config.model import GristSection
from gristops.errors import (
    BadRequest,
    GristopsError,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from gristops.store.base import RecordQuery, SortKey, Store, UpsertOptions
from gristops.store.server.store import GristServerStore
from tests.conftest import expand_body, load_scenario
from tests.support.grist_replay import REPLAY_KEY, ReplayServer, replay_server

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

Call = Callable[[GristServerStore], Awaitable[Any]]
Expected = Callable[[Any], Any]

# Steps whose request the Store protocol cannot produce, per scenario.
NOT_EXPRESSIBLE: dict[str, set[int]] = {
    "read_tables_columns": set(),
    "read_records": {
        67,  # sort/limit in X-Sort / X-Limit headers
        68,  # query parameters next to X- headers
        69, 70, 71, 72,  # POST /records/list
        73,  # GET /records/{id}: a path Grist lacks
        75,  # cellFormat=normal sent explicitly (the store leaves defaults out)
    },
    "read_errors": {
        8,  # malformed filter JSON
        11, 12, 13,  # limit=abc, -1, 2.7 (the protocol's limit is a non-negative int)
        15, 16,  # POST /records/list
        19,  # `Token` scheme: the store always sends Bearer
        22,  # DELETE /records: no such method
    },
    "write_records": {
        12,  # ?flat=true body
        14,  # an `id` inside a POSTed record
        61,  # a non-array body for /records/delete
        62, 63, 64,  # a body without `records`
        66,  # malformed JSON
    },
}  # fmt: skip

ERROR_CLASSES: dict[int, type[GristopsError]] = {
    400: BadRequest,
    401: Unavailable,
    403: Unavailable,
    404: NotFound,
    413: PayloadTooLarge,
    500: BadRequest,  # Grist's 500s here are unknown sort columns: a client mistake, so 400
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def as_json(value: Any) -> str:
    """JSON text, so that `true` and `1`, or `15` and `15.0`, are told apart."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def settings_for(server: ReplayServer, **overrides: Any) -> GristSection:
    return GristSection(base_url=server.url, document_id=server.doc_id, **overrides)


def _record_query(query: dict[str, str]) -> RecordQuery | None:
    if set(query) - {"filter", "sort", "limit", "hidden", "cellFormat"}:
        return None
    options: dict[str, Any] = {}
    if "filter" in query:
        try:
            options["filter"] = json.loads(query["filter"])
        except ValueError:
            return None
    if "sort" in query:
        keys = []
        for spec in query["sort"].split(","):
            column, _, flags = spec.lstrip("-").partition(":")
            keys.append(
                SortKey(column, spec.startswith("-"), tuple(filter(None, flags.split(";"))))
            )
        options["sort"] = tuple(keys)
    if "limit" in query:
        if not query["limit"].isdigit():
            return None
        options["limit"] = int(query["limit"])
    if "hidden" in query:
        options["hidden"] = query["hidden"] == "true"
    if "cellFormat" in query:
        if query["cellFormat"] == "normal":
            return None
        options["cell_format"] = query["cellFormat"]
    return RecordQuery(**options)


def store_call(request: dict[str, Any], doc_id: str) -> tuple[Call, Expected] | None:
    """The store call sending `request`, and how to get its result from Grist's answer."""
    if "body_raw" in request or request.get("auth") == "token_scheme":
        return None
    if any(name.lower().startswith("x-") for name in request["headers"]):
        return None
    _, _, _, doc, *rest = request["path"].split("/")
    doc = doc.replace("{docId}", doc_id)
    method, query = request["method"], request["query"]
    body = expand_body(request["body"]) if request.get("body_template") else request["body"]
    if (method, rest, query) == ("GET", ["tables"], {}):
        return (lambda s: s.list_tables(doc)), lambda answer: answer["tables"]
    if len(rest) < 3 or rest[0] != "tables":
        return None
    table, tail = rest[1], rest[2:]
    if method == "GET" and tail == ["columns"] and set(query) <= {"hidden"}:
        hidden = query.get("hidden") == "true"
        return (lambda s: s.list_columns(doc, table, hidden)), lambda answer: answer["columns"]
    if method == "GET" and tail == ["records"]:
        record_query = _record_query(query)
        if record_query is None:
            return None
        return (lambda s: s.fetch_records(doc, table, record_query)), lambda a: a["records"]
    if tail == ["records", "delete"] and method == "POST" and isinstance(body, list):
        return (lambda s: s.delete_records(doc, table, body)), lambda answer: answer
    if tail != ["records"] or not isinstance(body, dict) or set(body) != {"records"}:
        return None
    records = body["records"]
    if method == "POST" and not query and all(set(r) == {"fields"} for r in records):
        fields = [record["fields"] for record in records]
        ids: Expected = lambda answer: [record["id"] for record in answer["records"]]  # noqa: E731
        return (lambda s: s.add_records(doc, table, fields)), ids
    if method == "PATCH" and not query:
        return (lambda s: s.update_records(doc, table, records)), lambda answer: answer
    if method == "PUT":
        options = UpsertOptions(
            noadd=query.get("noadd") == "true",
            noupdate=query.get("noupdate") == "true",
            onmany=query.get("onmany", "first"),  # type: ignore[arg-type]  # "some" too, on purpose
            allow_empty_require=query.get("allow_empty_require") == "true",
        )

        async def upsert(s: GristServerStore) -> Any:
            return (await s.upsert_records(doc, table, records, options)).to_json()

        return upsert, lambda answer: answer
    return None


def _key_for(request: dict[str, Any]) -> str:
    """The API key a store needs to send this request's Authorization."""
    kind = request.get("auth")
    if kind == "none":
        return ""
    if kind == "bearer_wrong_key":
        return str(request["headers"]["Authorization"]).removeprefix("Bearer ")
    return REPLAY_KEY


async def _check(
    exchange: dict[str, Any], call: Call, expected: Expected, store: GristServerStore, doc_id: str
) -> None:
    response = exchange["response"]
    answer = json.loads(json.dumps(response["body"]).replace("{docId}", doc_id))
    if response["status"] == 200:
        assert as_json(await call(store)) == as_json(expected(answer)), exchange["name"]
        return
    with pytest.raises(GristopsError) as caught:
        await call(store)
    error = caught.value
    assert type(error) is ERROR_CLASSES[response["status"]], exchange["name"]
    if response["status"] in (401, 403):
        assert answer["error"] in error.message
        assert "api_key" in error.hint
    elif response["status"] == 500:
        column = answer["error"].removeprefix("unknown key ")
        assert error.message == f'Invalid sort: unknown column "{column}"'
    else:
        assert error.message == answer["error"], exchange["name"]


@pytest.mark.parametrize("scenario", list(NOT_EXPRESSIBLE))
async def test_every_expressible_exchange_answers_as_recorded(scenario: str) -> None:
    exchanges = load_scenario(scenario)
    skipped = set()
    with replay_server(scenario) as server:
        stores: dict[str, GristServerStore] = {}
        try:
            for exchange in exchanges:
                found = store_call(exchange["request"], server.doc_id)
                if found is None:
                    skipped.add(exchange["step"])
                    continue
                key = _key_for(exchange["request"])
                if key not in stores:
                    stores[key] = GristServerStore(settings_for(server, retries=0), key)
                await _check(exchange, *found, stores[key], server.doc_id)
        finally:
            for store in stores.values():
                await store.aclose()
        assert server.unmatched == []
    assert skipped == NOT_EXPRESSIBLE[scenario]
    assert len(server.seen) == len(exchanges) - len(skipped)


def _answer(scenario: str, name: str) -> Any:
    """Grist's recorded answer body of the exchange called `name`."""
    return next(e["response"]["body"] for e in load_scenario(scenario) if e["name"] == name)


def _derived(path: str, query: dict[str, str], records: list[Any]) -> dict[str, Any]:
    """An exchange whose answer is cut from recorded answers, for a request Grist was not sent."""
    return {
        "name": f"derived {path} {query}",
        "step": 0,
        "request": {"method": "GET", "path": path, "query": query, "headers": {}, "body": None},
        "response": {
            "status": 200,
            "content_type": "application/json",
            "body": {"records": records},
        },
    }


def _reads(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*load_scenario("read_tables_columns"), *load_scenario("read_records"), *extra]


async def test_offset_drops_rows_after_grist_sorted_and_limited() -> None:
    with replay_server(exchanges=_reads(), ordered=False) as server:
        store = GristServerStore(settings_for(server), REPLAY_KEY)
        try:
            page = await store.fetch_records(
                server.doc_id, "Products", RecordQuery(limit=1, offset=2)
            )
            tail = await store.fetch_records(server.doc_id, "Products", RecordQuery(offset=13))
        finally:
            await store.aclose()
        assert server.unmatched == []
    assert page == _answer("read_records", "limit 3")["records"][2:]
    assert tail == _answer("read_records", "records of Products")["records"][13:]


async def test_fetch_record_by_id_and_missing_id() -> None:
    products = _answer("read_records", "records of Products")["records"]
    path = "/api/docs/{docId}/tables/Products/records"
    exchanges = _reads(
        _derived(path, {"filter": '{"id":[3]}'}, [products[2]]),
        _derived(path, {"filter": '{"id":[99]}'}, []),  # no row 99, as recorded for [1,3,99]
    )
    with replay_server(exchanges=exchanges, ordered=False) as server:
        store = GristServerStore(settings_for(server), REPLAY_KEY)
        try:
            assert await store.fetch_record(server.doc_id, "Products", 3) == products[2]
            with pytest.raises(NotFound, match="99"):
                await store.fetch_record(server.doc_id, "Products", 99)
        finally:
            await store.aclose()


async def test_login_lookup_through_sql_folds_case_and_answers_like_rest() -> None:
    users = _answer("read_records", "records of Users (hidden=true)")["records"]
    products = _answer("read_records", "records of Products (hidden=true)")["records"]
    with replay_server(exchanges=_reads(), ordered=False) as server:
        store = GristServerStore(settings_for(server), REPLAY_KEY)
        doc = server.doc_id
        try:
            carol = await store.find_records(doc, "Users", "email", "carol.mixed@SHOP.test")
            exact = await store.find_records(
                doc, "Users", "email", "carol.mixed@shop.test", casefold=False
            )
            injected = await store.find_records(doc, "Users", "email", "x' OR '1'='1")
            apple = await store.find_records(doc, "Products", "name", "apple", casefold=False)
            with pytest.raises(BadRequest, match="Invalid column"):
                await store.find_records(doc, "Users", 'email" OR 1=1 --', "x")
        finally:
            await store.aclose()
        assert server.unmatched == []
    assert as_json(carol) == as_json(
        [users[4]]
    )  # Bool 0/1 back to false/true, hidden columns included
    assert exact == []
    assert injected == []
    assert as_json(apple) == as_json(
        [products[0]]
    )  # ChoiceList, Attachments, Ref, Date, formula cells


async def test_login_lookup_without_sql_endpoint_falls_back_to_an_exact_filter() -> None:
    users = _answer("read_records", "records of Users (hidden=true)")["records"]
    alice = [user for user in users if user["fields"]["email"] == "alice@shop.test"]
    query = {"filter": '{"email":["alice@shop.test"]}', "hidden": "true"}
    exchanges = _reads(_derived("/api/docs/{docId}/tables/Users/records", query, alice))
    with replay_server(exchanges=exchanges, ordered=False, sql_doc=None) as server:
        store = GristServerStore(settings_for(server), REPLAY_KEY)
        try:
            found = await store.find_records(server.doc_id, "Users", "email", "alice@shop.test")
        finally:
            await store.aclose()
        assert [(seen.method, seen.status) for seen in server.seen] == [
            ("GET", 200),
            ("POST", 404),
            ("GET", 200),
        ]
    assert found == alice


async def test_ping_reaches_the_document_or_says_it_is_missing() -> None:
    exchanges = [*load_scenario("read_tables_columns"), *load_scenario("read_errors")]
    with replay_server(exchanges=exchanges, ordered=False) as server:
        store = GristServerStore(settings_for(server), REPLAY_KEY)
        try:
            assert isinstance(store, Store)
            await store.ping(server.doc_id)
            with pytest.raises(NotFound, match="document not found"):
                await store.ping("NoSuchDoc00000000000000")
        finally:
            await store.aclose()
