"""`gristops_store_up`: a background task pings the store so a scrape only reads a gauge.

A ping at scrape time would tie the scrape's latency to the store's (and a
scrape cannot await), so the gateway pings on its own clock instead: every
`interval` seconds, each ping bounded by `timeout`. With several gateway workers
one of them runs the probe; the gauge's multiprocess mode exposes the most
recent value any worker set, so it survives that worker's replacement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from prometheus_client import CollectorRegistry, Gauge

from gristops.store.base import Store

log = structlog.get_logger("gristops.observe")


class StoreProbe:
    """Pings `doc_id` on `store` and keeps `gristops_store_up` at 1 (answered) or 0."""

    def __init__(
        self,
        store: Store,
        doc_id: str,
        registry: CollectorRegistry,
        *,
        interval: float = 10.0,
        timeout: float = 2.0,
    ) -> None:
        self.store = store
        self.doc_id = doc_id
        self.interval = interval
        self.timeout = min(timeout, interval)
        self.last: bool | None = None
        self.up = Gauge(
            "gristops_store_up",
            "1 when the store answered the gateway's last ping, else 0.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )

    async def check(self) -> bool:
        """Ping once and set the gauge; True when the store answered in time."""
        try:
            await asyncio.wait_for(self.store.ping(self.doc_id), self.timeout)
            ok = True
        except Exception as exc:  # any failure (timeout, missing file, HTTP error) means down
            ok = False
            if self.last is not False:  # log the transition, not every failed ping
                log.warning("store unreachable", document=self.doc_id, error=str(exc) or "timeout")
        if ok and self.last is False:
            log.info("store reachable again", document=self.doc_id)
        self.last = ok
        self.up.set(1 if ok else 0)
        return ok

    async def _loop(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StoreProbe]:
        """Ping in the background while the context is open (the app's lifespan)."""
        task = asyncio.create_task(self._loop(), name="gristops-store-probe")
        try:
            yield self
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
