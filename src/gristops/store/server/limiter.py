"""Per-document concurrency limit: queue requests instead of letting Grist refuse them.

Grist answers 429 when more than GRIST_MAX_PARALLEL_REQUESTS_PER_DOC (10 by
default) requests for one document are in flight. Holding each document to a
few fewer in-flight requests, and queueing the rest here, means a crowd of app
users is served a little later instead of being refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _DocSlots:
    """The semaphore of one document and how many callers hold or wait for it."""

    def __init__(self, size: int) -> None:
        self.semaphore = asyncio.Semaphore(size)
        self.users = 0
        self.held = 0


class DocLimiter:
    """At most `max_parallel` concurrent holders of `slot(doc_id)` per document."""

    def __init__(self, max_parallel: int) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self._max_parallel = max_parallel
        self._docs: dict[str, _DocSlots] = {}

    @asynccontextmanager
    async def slot(self, doc_id: str) -> AsyncIterator[None]:
        """Wait for a free slot of `doc_id` (FIFO) and hold it for the block."""
        slots = self._docs.get(doc_id)
        if slots is None:
            # Created lazily, inside the running loop, and dropped when idle so
            # that a long-lived gateway does not keep one per document ever seen.
            slots = self._docs[doc_id] = _DocSlots(self._max_parallel)
        slots.users += 1
        try:
            async with slots.semaphore:
                slots.held += 1
                try:
                    yield
                finally:
                    slots.held -= 1
        finally:
            slots.users -= 1
            if slots.users == 0:
                del self._docs[doc_id]

    def in_flight(self, doc_id: str) -> int:
        """Slots of `doc_id` held right now."""
        slots = self._docs.get(doc_id)
        return 0 if slots is None else slots.held

    def waiting(self, doc_id: str) -> int:
        """Callers of `doc_id` queued for a slot."""
        slots = self._docs.get(doc_id)
        return 0 if slots is None else slots.users - self.in_flight(doc_id)
