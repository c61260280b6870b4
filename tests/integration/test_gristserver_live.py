"""GristServerStore against a live grist-core 1.7.17 (the test peer), not a recording.

Every recorded exchange the Store protocol can express is sent through the
store to the live server, on a fresh upload of Shop.grist per scenario, and
the answer must equal the recording: this proves the store against Grist and
that the fixtures in tests/fixtures/grist have not aged. Then what the
recordings cannot show: the real `/sql` endpoint behind logins, paging with
`offset`, single records, and what Grist itself refuses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gristops.config.model import GristSection
from gristops.errors import BadRequest, NotFound, Unavailable
from gristops.store.base import RecordQuery, SortKey, UpsertOptions
from gristops.store.server.store import GristServerStore
from tests.conftest import SHOP_GRIST, expand_body, load_scenario
from tests.integration.test_gristserver_replay import NOT_EXPRESSIBLE, _check, store_call
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]

WRONG_KEY = "0" * 40


def _store(grist: GristPeer, doc_id: str, key: str | None = None) -> GristServerStore:
    settings = GristSection(base_url=grist.base_url, document_id=doc_id, retries=0)
    return GristServerStore(settings, grist.api_key if key is None else key)


@pytest.fixture
async def shop(grist_peer: GristPeer) -> AsyncIterator[tuple[GristServerStore, str]]:
    """A store on a fresh upload of Shop.grist."""
    doc_id = grist_peer.upload(SHOP_GRIST, "Shop")
    store = _store(grist_peer, doc_id)
    try:
        yield store, doc_id
    finally:
        await store.aclose()


def _key_for(grist: GristPeer, request: dict[str, object]) -> str:
    kind = request.get("auth")
    return {"none": "", "bearer_wrong_key": WRONG_KEY}.get(str(kind), grist.api_key)


def _assert_raw_answer(grist: GristPeer, exchange: dict[str, Any], doc_id: str) -> None:
    """Send a recorded request as it was recorded; Grist must answer as it did then."""
    request = exchange["request"]
    headers = {k: v for k, v in request["headers"].items() if k != "Authorization"}
    if request.get("auth") == "token_scheme":
        headers["Authorization"] = f"Token {grist.api_key}"
    elif request.get("auth"):
        return  # the other credential kinds are store calls, checked above
    body = expand_body(request["body"]) if request.get("body_template") else request["body"]
    content: dict[str, Any] = (
        {"content": request["body_raw"].encode()} if "body_raw" in request
        else {} if body is None else {"json": body}
    )  # fmt: skip
    path = request["path"].replace("{docId}", doc_id)
    answer = grist.request(
        request["method"], path, params=request["query"], headers=headers, **content
    )
    recorded = exchange["response"]
    assert answer.status_code == recorded["status"], exchange["name"]
    if recorded["status"] < 500:
        body_text = json.dumps(recorded["body"]).replace("{docId}", doc_id)
        assert answer.json() == json.loads(body_text), exchange["name"]


@pytest.mark.parametrize("scenario", list(NOT_EXPRESSIBLE))
async def test_live_grist_answers_every_expressible_exchange_as_recorded(
    grist_peer: GristPeer, scenario: str
) -> None:
    doc_id = grist_peer.upload(SHOP_GRIST, "Shop")
    stores: dict[str, GristServerStore] = {}
    sent = 0
    try:
        for exchange in load_scenario(scenario):
            found = store_call(exchange["request"], doc_id)
            if found is None:
                # Not a store call: sent as recorded, so the document keeps Grist's state.
                _assert_raw_answer(grist_peer, exchange, doc_id)
                continue
            key = _key_for(grist_peer, exchange["request"])
            if key not in stores:
                stores[key] = _store(grist_peer, doc_id, key)
            await _check(exchange, *found, stores[key], doc_id)
            sent += 1
    finally:
        for store in stores.values():
            await store.aclose()
    assert sent > 10


async def test_login_lookup_uses_the_live_sql_endpoint(
    shop: tuple[GristServerStore, str],
) -> None:
    store, doc = shop
    everyone = await store.fetch_records(doc, "Users", RecordQuery(hidden=True))
    carol = [u for u in everyone if u["fields"]["email"] == "Carol.Mixed@Shop.Test"]
    assert await store.find_records(doc, "Users", "email", "carol.mixed@SHOP.test") == carol
    assert await store.find_records(doc, "Users", "email", "carol.mixed@shop.test", False) == []
    assert await store.find_records(doc, "Users", "email", "x' OR '1'='1") == []
    with pytest.raises(BadRequest, match="Invalid column"):
        await store.find_records(doc, "Users", 'email" OR 1=1 --', "x")


async def test_offset_single_record_and_missing_ones(shop: tuple[GristServerStore, str]) -> None:
    store, doc = shop
    by_price = (SortKey("price", descending=True), SortKey("name"))
    everything = await store.fetch_records(doc, "Products", RecordQuery(sort=by_price))
    page = await store.fetch_records(doc, "Products", RecordQuery(sort=by_price, limit=4, offset=3))
    assert page == everything[3:7]
    assert await store.fetch_record(doc, "Products", 3) == next(
        r for r in everything if r["id"] == 3
    )
    with pytest.raises(NotFound, match="Record 999 not found"):
        await store.fetch_record(doc, "Products", 999)
    with pytest.raises(NotFound, match="document not found"):
        await store.ping("NoSuchDoc0000000000000")
    await store.ping(doc)


async def test_writes_reach_grist_and_its_formulas(shop: tuple[GristServerStore, str]) -> None:
    store, doc = shop
    [new] = await store.add_records(
        doc, "Products", [{"name": "Live kiwi", "price": 10, "stock": 2}]
    )
    record = await store.fetch_record(doc, "Products", new)
    # Grist's engine computed the formula columns for the new row.
    assert record["fields"]["in_stock"] is True
    assert record["fields"]["price_with_tax"] == 12
    await store.update_records(doc, "Products", [{"id": new, "fields": {"stock": 0}}])
    assert (await store.fetch_record(doc, "Products", new))["fields"]["in_stock"] is False
    answer = await store.upsert_records(
        doc,
        "Products",
        [{"require": {"name": "Live kiwi"}, "fields": {"price": 20}}],
        UpsertOptions(),
    )
    assert (answer.record_ids, answer.update_record_ids) == ([[new]], [[new]])
    await store.delete_records(doc, "Products", [new])
    with pytest.raises(NotFound):
        await store.fetch_record(doc, "Products", new)


async def test_a_wrong_api_key_is_a_clear_unavailable(grist_peer: GristPeer) -> None:
    doc_id = grist_peer.upload(SHOP_GRIST, "Shop")
    store = _store(grist_peer, doc_id, WRONG_KEY)
    try:
        with pytest.raises(Unavailable, match="refused the gateway's API key") as caught:
            await store.list_tables(doc_id)
    finally:
        await store.aclose()
    assert "grist.api_key" in caught.value.hint
