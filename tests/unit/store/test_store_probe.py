"""gristops_store_up follows a real embedded store: down when its document goes away, up again after."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from prometheus_client import CollectorRegistry

from gristops.config import parse_config
from gristops.store.factory import open_store
from gristops.store.probe import StoreProbe


def up(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("gristops_store_up")


async def test_store_up_follows_the_document(tmp_path: Path, shop_docs: Path) -> None:
    config = parse_config(f"data_dir: {tmp_path}\ngrist: {{document_id: Shop}}\n")
    store = open_store(config)
    registry = CollectorRegistry()
    probe = StoreProbe(store, "Shop", registry, interval=0.05)
    doc = shop_docs / "Shop.grist"
    try:
        assert await probe.check() is True
        assert up(registry) == 1
        os.rename(doc, doc.with_suffix(".away"))
        assert await probe.check() is False
        assert up(registry) == 0
        os.rename(doc.with_suffix(".away"), doc)
        assert await probe.check() is True
        assert up(registry) == 1
    finally:
        await store.aclose()


async def test_the_background_probe_notices_without_a_scrape(
    tmp_path: Path, shop_docs: Path
) -> None:
    config = parse_config(f"data_dir: {tmp_path}\ngrist: {{document_id: Shop}}\n")
    store = open_store(config)
    registry = CollectorRegistry()
    doc = shop_docs / "Shop.grist"
    try:
        async with StoreProbe(store, "Shop", registry, interval=0.02).running():
            for _ in range(100):
                if up(registry) == 1:
                    break
                await asyncio.sleep(0.02)
            assert up(registry) == 1
            os.rename(doc, doc.with_suffix(".away"))
            for _ in range(100):
                if up(registry) == 0:
                    break
                await asyncio.sleep(0.02)
            assert up(registry) == 0
    finally:
        await store.aclose()
