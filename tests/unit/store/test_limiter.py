"""The per-document limiter that keeps Grist's parallel-request limit from being hit."""

from __future__ import annotations

import asyncio

import pytest

from gristops.store.server.limiter import DocLimiter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_never_more_than_the_limit_in_flight_and_everyone_is_served() -> None:
    limiter = DocLimiter(4)
    peak = 0
    served = 0

    async def request() -> None:
        nonlocal peak, served
        async with limiter.slot("doc"):
            peak = max(peak, limiter.in_flight("doc"))
            await asyncio.sleep(0.001)
            served += 1

    await asyncio.gather(*(request() for _ in range(40)))
    assert peak == 4
    assert served == 40
    assert (limiter.in_flight("doc"), limiter.waiting("doc")) == (0, 0)


async def test_documents_do_not_queue_behind_each_other() -> None:
    limiter = DocLimiter(1)
    release = asyncio.Event()

    async def hold_a() -> None:
        async with limiter.slot("a"):
            await release.wait()

    holder = asyncio.create_task(hold_a())
    await asyncio.sleep(0)
    async with limiter.slot("b"):
        assert limiter.in_flight("a") == 1
        assert limiter.in_flight("b") == 1
    release.set()
    await holder


async def test_queued_callers_are_counted_and_served_in_turn() -> None:
    limiter = DocLimiter(1)
    order: list[int] = []
    gate = asyncio.Event()

    async def request(n: int) -> None:
        async with limiter.slot("doc"):
            await gate.wait()
            order.append(n)

    tasks = [asyncio.create_task(request(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert (limiter.in_flight("doc"), limiter.waiting("doc")) == (1, 2)
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    limiter = DocLimiter(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("doc"):
            await release.wait()

    holder = asyncio.create_task(hold())
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (limiter.in_flight("doc"), limiter.waiting("doc")) == (0, 0)
    async with limiter.slot("doc"):
        assert limiter.in_flight("doc") == 1


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DocLimiter(0)
