"""GristFileStore's fast path: cheap reads on the event loop, everything else on the pool.

Where a read ran is observed by wrapping the real read functions: the event
loop runs on the main thread here, the pool on its own threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from gristops.store.base import RecordQuery, SortKey
from gristops.store.file import docfile, reads, writes
from gristops.store.file.query import order
from gristops.store.file.store import GristFileStore

DOC = "Shop"
WAIT = 30.0


@pytest.fixture
async def store(shop_docs: Path) -> AsyncIterator[GristFileStore]:
    store = GristFileStore(shop_docs, read_threads=1)
    yield store
    await store.aclose()


@pytest.fixture
def placements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """'loop' or 'pool' for each records read, in order (reads.fetch/find/fetch_one)."""
    seen: list[str] = []

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            on_loop = threading.current_thread() is threading.main_thread()
            seen.append("loop" if on_loop else "pool")
            return real(*args, **kwargs)

        return run

    for name in ("fetch", "find", "fetch_one"):
        monkeypatch.setattr(reads, name, spy(getattr(reads, name)))
    return seen


class Ticker:
    """A coroutine that counts while the event loop is free to run it."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.001)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task

    async def advance(self, ticks: int = 20) -> None:
        """Return once the ticker ran `ticks` more times."""
        target = self.ticks + ticks
        while self.ticks < target:
            await asyncio.sleep(0.001)


class Gate:
    """Holds a pool thread inside a store function until the test opens it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            # On the event loop this would wait forever: fail loudly instead.
            assert threading.current_thread() is not threading.main_thread()
            self.entered.set()
            assert self.opened.wait(WAIT)
            return real(*args, **kwargs)

        return run

    async def reached(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, WAIT)


SORTED = RecordQuery(sort=(SortKey("label"), SortKey("amount", descending=True)), limit=10)


async def test_a_read_waits_for_a_writer_on_the_pool_while_the_loop_runs(
    shop_docs: Path, monkeypatch: pytest.MonkeyPatch, placements: list[str]
) -> None:
    # Waiting for a lock on the loop would freeze it for the whole busy timeout:
    # make that longer than the watchdog below, so a freeze cannot go unnoticed.
    monkeypatch.setattr(docfile, "BUSY_TIMEOUT_SECONDS", 4 * WAIT)
    store = GristFileStore(shop_docs)
    query = RecordQuery(filter={"kind": ["view"]}, limit=5)
    # In DELETE mode (as Grist writes files) an exclusive lock keeps every reader out.
    holder = sqlite3.connect(
        shop_docs / "Shop.grist", isolation_level=None, check_same_thread=False
    )
    loop_ran = threading.Event()
    seen: list[bool] = []

    def watchdog() -> None:
        # Releases the lock once the loop ran while the read waited (or after WAIT).
        seen.append(loop_ran.wait(WAIT))
        holder.execute("COMMIT")

    try:
        expected = await store.fetch_records(DOC, "Events", query)
        holder.execute("BEGIN EXCLUSIVE")
        releaser = threading.Thread(target=watchdog)
        releaser.start()
        async with Ticker() as ticker:
            read = asyncio.create_task(store.fetch_records(DOC, "Events", query))
            await ticker.advance()
            assert not read.done()
            loop_ran.set()
            answer = await asyncio.wait_for(read, WAIT)
        releaser.join()
    finally:
        loop_ran.set()
        await store.aclose()
        holder.close()
    assert seen == [True] and answer == expected
    # Warm caches: tried on the loop; the lock: tried there, then answered by the pool.
    assert placements == ["pool", "loop", "pool"]


async def test_a_cold_sort_is_built_on_the_pool_while_the_loop_runs(
    store: GristFileStore, monkeypatch: pytest.MonkeyPatch, placements: list[str]
) -> None:
    gate = Gate()
    monkeypatch.setattr(reads, "order", gate.wrap(order))
    await store.list_tables(DOC)  # schema cached: only the sort order is cold
    async with Ticker() as ticker:
        read = asyncio.create_task(store.fetch_records(DOC, "Events", SORTED))
        await gate.reached()
        await ticker.advance()
        assert not read.done()
        gate.opened.set()
        first = await asyncio.wait_for(read, WAIT)
    again = await store.fetch_records(DOC, "Events", SORTED)
    assert again == first
    assert len(first) == 10
    assert placements == ["loop", "pool", "loop"]


async def test_cheap_reads_answer_while_the_pool_is_busy(
    store: GristFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.fetch_records(DOC, "Products", RecordQuery(sort=(SortKey("name"),)))
    gate = Gate()
    monkeypatch.setattr(reads, "order", gate.wrap(order))
    # The store's one read thread is held by a cold sort...
    cold = asyncio.create_task(store.fetch_records(DOC, "Events", SORTED))
    await gate.reached()
    # ... and every cheap read still answers.
    cheap: list[Awaitable[object]] = [
        store.list_tables(DOC),
        store.list_columns(DOC, "Products"),
        store.fetch_record(DOC, "Products", 3),
        store.find_records(DOC, "Users", "email", "DAVE@SHOP.TEST"),
        store.fetch_records(DOC, "Events", RecordQuery(limit=100)),
        store.fetch_records(DOC, "Products", RecordQuery(sort=(SortKey("name"),))),
        store.ping(DOC),
    ]
    tables, columns, record, found, events, products, _ = await asyncio.wait_for(
        asyncio.gather(*cheap), WAIT
    )
    assert isinstance(tables, list) and isinstance(columns, list) and len(columns) > 0
    assert isinstance(record, dict) and record["fields"]["name"] == "Éclair"
    assert isinstance(found, list) and [r["id"] for r in found] == [6]
    assert isinstance(events, list) and len(events) == 100
    assert isinstance(products, list) and len(products) == 15
    assert not cold.done()
    gate.opened.set()
    assert len(await asyncio.wait_for(cold, WAIT)) == 10


QUERIES = [
    RecordQuery(),
    RecordQuery(limit=100, offset=7),
    RecordQuery(filter={"kind": ["view", "cart"], "amount": [None, 12.5]}, limit=50),
    RecordQuery(sort=(SortKey("kind"), SortKey("seq", descending=True)), limit=30, offset=5),
    RecordQuery(sort=(SortKey("label", flags=("naturalSort",)),), hidden=True, limit=20),
    RecordQuery(cell_format="typed", sort=(SortKey("at"),), limit=40),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: repr(q)[:60])
async def test_the_fast_path_answers_as_the_pool_does(
    shop_docs: Path, placements: list[str], query: RecordQuery
) -> None:
    store = GristFileStore(shop_docs)
    try:
        # A fresh store has nothing cached: the first read is answered by the pool.
        first = await store.fetch_records(DOC, "Events", query)
        second = await store.fetch_records(DOC, "Events", query)
    finally:
        await store.aclose()
    assert first == second and len(first) > 0
    # The whole table (3,000 rows) is more than the fast path decodes: tried, then the pool.
    assert placements == (["pool", "loop", "pool"] if query.limit is None else ["pool", "loop"])


async def test_finds_and_single_records_agree_on_both_paths(
    shop_docs: Path, placements: list[str]
) -> None:
    store = GristFileStore(shop_docs)
    try:
        found = [await store.find_records(DOC, "Users", "email", "CAROL.mixed@shop.test")]
        found.append(await store.find_records(DOC, "Users", "email", "CAROL.mixed@shop.test"))
        # Another process's write: the cached schema is stale, the next read goes to the pool.
        with sqlite3.connect(shop_docs / "Shop.grist") as outside:
            outside.execute("UPDATE Suppliers SET rating = 1 WHERE id = 1")
        outside.close()
        record = [await store.fetch_record(DOC, "Products", 3, True)]
        record.append(await store.fetch_record(DOC, "Products", 3, True))
    finally:
        await store.aclose()
    assert found[0] == found[1] and [r["id"] for r in found[0]] == [5]
    assert record[0] == record[1] and "manualSort" in record[0]["fields"]
    assert placements == ["pool", "loop", "pool", "loop"]


@pytest.fixture
def writer_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(writes, "add", gate.wrap(writes.add))
    yield gate
    gate.opened.set()


def other_process_can_write(path: Path) -> bool:
    code = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
        "try:\n"
        "    conn.execute('BEGIN IMMEDIATE')\n"
        "except sqlite3.OperationalError:\n"
        "    sys.exit(1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], timeout=WAIT, check=False)
    return done.returncode == 0


async def test_reads_during_a_write_keep_other_processes_out(
    store: GristFileStore, shop_docs: Path, writer_gate: Gate
) -> None:
    write = asyncio.create_task(
        store.add_records(DOC, "Suppliers", [{"name": "During", "country": "FR"}])
    )
    await writer_gate.reached()  # the write transaction holds its lock
    for _ in range(3):
        await store.fetch_records(DOC, "Suppliers", RecordQuery())
    assert not await asyncio.to_thread(other_process_can_write, shop_docs / "Shop.grist")
    writer_gate.opened.set()
    [new_id] = await asyncio.wait_for(write, WAIT)
    names = [
        r["fields"]["name"] for r in await store.fetch_records(DOC, "Suppliers", RecordQuery())
    ]
    assert "During" in names and new_id == 5
    assert await asyncio.to_thread(other_process_can_write, shop_docs / "Shop.grist")
