"""GristServerStore when Grist is crowded, down, slow or refusing: the replay server's faults.

The answers come from recorded real-Grist exchanges; the faults (Grist's
per-document 429 limit, 5xx, connection refused, slow answers) are simulated
by the replay server, see tests/support/grist_replay.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gristops.config.model import GristSection
from gristops.errors import GristopsError, NotFound, TooManyRequests, Unavailable
from gristops.observe.metrics import create_metrics
from gristops.store.server.store import GristServerStore
from tests.conftest import load_scenario
from tests.support.grist_replay import REPLAY_KEY, ReplayServer, replay_server

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

GRIST_PARALLEL_LIMIT = 10  # GRIST_MAX_PARALLEL_REQUESTS_PER_DOC's default


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with replay_server("read_tables_columns", ordered=False) as running:
        yield running


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings_for(server: ReplayServer, **overrides: Any) -> GristSection:
    return GristSection(base_url=server.url, document_id=server.doc_id, **overrides)


def tables_answer() -> Any:
    exchange = next(e for e in load_scenario("read_tables_columns") if e["name"] == "list tables")
    return exchange["response"]["body"]["tables"]


async def test_a_hundred_concurrent_users_never_see_grist_refuse_the_document() -> None:
    with replay_server(
        "read_tables_columns",
        ordered=False,
        max_parallel_per_doc=GRIST_PARALLEL_LIMIT,
        latency=0.02,
    ) as server:
        store = GristServerStore(settings_for(server, retries=0), REPLAY_KEY)
        try:
            answers = await asyncio.gather(*(store.list_tables(server.doc_id) for _ in range(100)))
        finally:
            await store.aclose()
    assert all(answer == tables_answer() for answer in answers)
    assert server.statuses() == Counter({200: 100})
    assert server.peak_in_flight[server.doc_id] <= settings_for(server).max_parallel_per_doc


async def test_without_the_limiter_the_same_crowd_is_refused() -> None:
    """The control: the replay server does refuse like Grist when nothing queues."""
    with replay_server(
        "read_tables_columns",
        ordered=False,
        max_parallel_per_doc=GRIST_PARALLEL_LIMIT,
        latency=0.02,
    ) as server:
        limits = httpx.Limits(max_connections=100)
        headers = {"Authorization": f"Bearer {REPLAY_KEY}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits) as raw:
            path = f"/api/docs/{server.doc_id}/tables"
            answers = await asyncio.gather(*(raw.get(path) for _ in range(100)))
    assert Counter(a.status_code for a in answers)[429] > 0
    refused = next(a for a in answers if a.status_code == 429)
    assert "Too many backlogged requests" in refused.json()["error"]


async def test_breaker_opens_after_failures_fails_fast_then_closes_after_reset(
    server: ReplayServer,
) -> None:
    clock = ManualClock()
    settings = settings_for(server, retries=0, breaker_failures=3, breaker_reset=10)
    store = GristServerStore(settings, REPLAY_KEY, clock=clock)
    doc = server.doc_id
    try:
        server.down()
        for _ in range(3):
            with pytest.raises(Unavailable, match="Cannot reach the Grist server"):
                await store.list_tables(doc)
        server.up()
        received = server.received
        with pytest.raises(Unavailable, match=r"circuit open") as caught:
            await store.list_tables(doc)
        assert "reachable" in caught.value.hint
        assert server.received == received  # failed fast: Grist was not asked

        clock.advance(10)
        assert await store.list_tables(doc) == tables_answer()
        # Closed again: one new failure does not open it, the next call goes through.
        server.fail_next(1, 503)
        with pytest.raises(Unavailable, match="HTTP 503"):
            await store.list_tables(doc)
        assert await store.list_tables(doc) == tables_answer()
    finally:
        await store.aclose()


async def test_a_failed_trial_call_opens_the_breaker_again(server: ReplayServer) -> None:
    clock = ManualClock()
    settings = settings_for(server, retries=0, breaker_failures=2, breaker_reset=5)
    store = GristServerStore(settings, REPLAY_KEY, clock=clock)
    try:
        server.fail_next(3, 503)
        for _ in range(2):
            with pytest.raises(Unavailable, match="HTTP 503"):
                await store.list_tables(server.doc_id)
        clock.advance(5)
        with pytest.raises(Unavailable, match="HTTP 503"):  # the trial reached Grist
            await store.list_tables(server.doc_id)
        with pytest.raises(Unavailable, match="circuit open"):
            await store.list_tables(server.doc_id)
        assert server.received == 3
    finally:
        await store.aclose()


async def test_grist_errors_that_are_answers_do_not_open_the_breaker() -> None:
    exchanges = [*load_scenario("read_tables_columns"), *load_scenario("read_errors")]
    with replay_server(exchanges=exchanges, ordered=False) as server:
        settings = settings_for(server, retries=0, breaker_failures=2)
        store = GristServerStore(settings, REPLAY_KEY)
        try:
            for _ in range(3):
                with pytest.raises(NotFound, match='Table not found "Nope"'):
                    await store.list_columns(server.doc_id, "Nope")
            assert await store.list_tables(server.doc_id) == tables_answer()
        finally:
            await store.aclose()


async def test_reads_are_retried_until_grist_answers(server: ReplayServer) -> None:
    store = GristServerStore(settings_for(server, retries=3), REPLAY_KEY)
    try:
        server.fail_next(1, 502)
        server.fail_next(1, 429, retry_after=0)
        server.fail_next(1, 504)
        assert await store.list_tables(server.doc_id) == tables_answer()
    finally:
        await store.aclose()
    assert [seen.status for seen in server.seen] == [502, 429, 504, 200]


async def test_reads_give_up_after_the_configured_retries(server: ReplayServer) -> None:
    store = GristServerStore(settings_for(server, retries=2), REPLAY_KEY)
    try:
        server.fail_next(5, 503)
        with pytest.raises(Unavailable, match="HTTP 503"):
            await store.list_tables(server.doc_id)
    finally:
        await store.aclose()
    assert server.received == 3


async def test_the_sql_lookup_is_a_read_and_is_retried() -> None:
    exchanges = [*load_scenario("read_tables_columns"), *load_scenario("read_records")]
    with replay_server(exchanges=exchanges, ordered=False) as server:
        store = GristServerStore(settings_for(server, retries=1), REPLAY_KEY)
        try:
            server.fail_next(1, 503, method="POST")
            found = await store.find_records(server.doc_id, "Users", "email", "ALICE@shop.test")
        finally:
            await store.aclose()
    assert [record["id"] for record in found] == [3]
    assert [(seen.method, seen.status) for seen in server.seen] == [
        ("GET", 200),
        ("POST", 503),
        ("POST", 200),
    ]


@pytest.mark.parametrize(
    ("status", "error"), [(503, Unavailable), (502, Unavailable), (429, TooManyRequests)]
)
async def test_writes_are_never_retried(status: int, error: type[GristopsError]) -> None:
    with replay_server("write_records") as server:
        store = GristServerStore(settings_for(server, retries=3), REPLAY_KEY)
        try:
            server.fail_next(1, status, retry_after=0)
            with pytest.raises(error):
                await store.add_records(server.doc_id, "Products", [{"name": "Croissant"}])
            server.fail_next(1, status, retry_after=0)
            with pytest.raises(error):
                await store.delete_records(server.doc_id, "Products", [10, 11])
        finally:
            await store.aclose()
    assert server.received == 2


async def test_a_write_that_times_out_is_not_sent_again() -> None:
    with replay_server("write_records", latency=1.0) as server:
        store = GristServerStore(settings_for(server, retries=3, timeout=0.2), REPLAY_KEY)
        try:
            with pytest.raises(Unavailable, match="did not answer"):
                await store.add_records(server.doc_id, "Products", [{"name": "Croissant"}])
        finally:
            await store.aclose()
    assert server.received == 1


async def test_a_slow_grist_read_times_out_and_is_retried() -> None:
    with replay_server("read_tables_columns", ordered=False, latency=1.0) as server:
        store = GristServerStore(settings_for(server, retries=1, timeout=0.2), REPLAY_KEY)
        try:
            with pytest.raises(Unavailable, match="did not answer") as caught:
                await store.list_tables(server.doc_id)
        finally:
            await store.aclose()
    assert "grist.timeout" in caught.value.hint
    assert server.received == 2


async def test_the_api_key_never_appears_in_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway_key = "private-gateway-marker"
    owners_key = "the-owners-marker"
    errors: list[GristopsError] = []
    with replay_server("read_tables_columns", ordered=False, api_key=owners_key) as server:
        settings = settings_for(server, retries=1, timeout=0.2, breaker_failures=100)
        store = GristServerStore(settings, gateway_key)
        try:
            faults = [
                lambda: None,  # a key Grist does not know: 401
                lambda: server.fail_next(2, 503),
                lambda: setattr(server, "latency", 1.0),
                server.down,
            ]
            for fault in faults:
                fault()
                with pytest.raises(GristopsError) as caught:
                    await store.list_tables(server.doc_id)
                errors.append(caught.value)
        finally:
            await store.aclose()
    assert "api_key" in errors[0].hint  # the operator is told what to fix
    shown = [text for e in errors for text in (str(e), e.hint, repr(e))]
    logged = [record.getMessage() for record in caplog.records]
    assert gateway_key not in "\n".join(shown + logged + [caplog.text])


async def test_operations_are_measured_by_kind_and_error(server: ReplayServer) -> None:
    metrics = create_metrics()
    store = GristServerStore(settings_for(server, retries=0), REPLAY_KEY, metrics=metrics.store)
    try:
        await store.list_tables(server.doc_id)
        await store.list_tables(server.doc_id)
        server.fail_next(1, 503)
        with pytest.raises(Unavailable):
            await store.list_columns(server.doc_id, "Users")
    finally:
        await store.aclose()
    sample = metrics.registry.get_sample_value
    labels = {"store": "grist", "operation": "list_tables"}
    assert sample("gristops_store_operation_duration_seconds_count", labels) == 2
    failed = {"store": "grist", "operation": "list_columns", "error": "Unavailable"}
    assert sample("gristops_store_errors_total", failed) == 1
