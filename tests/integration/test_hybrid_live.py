"""HybridStore beside a live grist-core: reads from its files, writes through its API.

Also `gristops config check` on hybrid and embedded configs that point at the
wrong folder, with the live server's real documents folder.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gristops.config.model import GristSection
from gristops.errors import NotFound
from gristops.store.base import RecordQuery, SortKey, Store
from gristops.store.hybrid.store import HybridStore
from gristops.store.metrics import StoreMetrics
from tests.conftest import SHOP_GRIST
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]


def _hybrid(
    grist: GristPeer, doc_id: str, docs_dir: Path, registry: CollectorRegistry
) -> HybridStore:
    settings = GristSection(
        base_url=grist.base_url, document_id=doc_id, docs_dir=docs_dir, retries=0
    )
    return HybridStore(settings, grist.api_key, StoreMetrics(registry))


@pytest.fixture
async def hybrid(
    grist_peer: GristPeer,
) -> AsyncIterator[tuple[HybridStore, str, CollectorRegistry]]:
    doc_id = grist_peer.upload(SHOP_GRIST, "Shop")
    registry = CollectorRegistry()
    store = _hybrid(grist_peer, doc_id, grist_peer.docs_dir, registry)
    try:
        yield store, doc_id, registry
    finally:
        await store.aclose()


def _fallbacks(registry: CollectorRegistry, reason: str) -> float:
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if (
                sample.name == "gristops_store_fallbacks_total"
                and sample.labels["reason"] == reason
            ):
                total += sample.value
    return total


async def test_reads_come_from_the_file_and_equal_grist(
    grist_peer: GristPeer, hybrid: tuple[HybridStore, str, CollectorRegistry]
) -> None:
    store, doc, registry = hybrid
    assert isinstance(store, Store)
    query = RecordQuery(filter={"category": ["Fruit", "Toys"]}, sort=(SortKey("price", True),))
    from_file = await store.fetch_records(doc, "Products", query)
    from_grist = await store.server.fetch_records(doc, "Products", query)
    assert from_file == from_grist
    assert await store.list_tables(doc) == await store.server.list_tables(doc)
    assert await store.list_columns(doc, "Orders", True) == await store.server.list_columns(
        doc, "Orders", True
    )
    await store.ping(doc)
    assert _fallbacks(registry, "missing") == _fallbacks(registry, "unreadable") == 0
    # The file store served them: its latency series exist, the Grist-server one only for writes.
    assert (
        registry.get_sample_value(
            "gristops_store_operation_duration_seconds_count",
            {"store": "file", "operation": "fetch_records"},
        )
        == 1
    )


async def test_a_read_after_a_write_sees_the_write(
    hybrid: tuple[HybridStore, str, CollectorRegistry],
) -> None:
    store, doc, _ = hybrid
    for round_ in range(20):
        [new] = await store.add_records(doc, "Products", [{"name": f"kiwi {round_}", "price": 4}])
        record = await store.fetch_record(doc, "Products", new)
        # Grist's engine computed the formula, and committed it before answering.
        assert record["fields"]["price_with_tax"] == 4.8
        await store.update_records(doc, "Products", [{"id": new, "fields": {"price": 5}}])
        assert (await store.fetch_record(doc, "Products", new))["fields"]["price_with_tax"] == 6
        await store.delete_records(doc, "Products", [new])
        with pytest.raises(NotFound):
            await store.fetch_record(doc, "Products", new)


async def test_reads_wait_out_grists_writes_and_never_see_half_of_one(
    grist_peer: GristPeer, hybrid: tuple[HybridStore, str, CollectorRegistry]
) -> None:
    store, doc, registry = hybrid
    batch = 50
    stop = threading.Event()

    def keep_writing() -> None:
        # Each POST is one Grist action, so one SQLite transaction of `batch` rows.
        for round_ in range(15):
            if stop.is_set():
                return
            rows = [{"fields": {"seq": 10_000 + round_ * batch + i}} for i in range(batch)]
            grist_peer.call(
                "POST", f"/api/docs/{doc}/tables/Events/records", json={"records": rows}
            )

    base = len(await store.fetch_records(doc, "Events", RecordQuery()))
    writer = threading.Thread(target=keep_writing)
    writer.start()
    seen = set()
    try:
        while writer.is_alive():
            count = len(await store.fetch_records(doc, "Events", RecordQuery()))
            assert (count - base) % batch == 0, f"{count - base} rows of a {batch}-row write"
            seen.add(count)
    finally:
        stop.set()
        writer.join()
    assert len(await store.fetch_records(doc, "Events", RecordQuery())) == base + 15 * batch
    assert len(seen) > 1  # the reads ran while Grist wrote
    assert _fallbacks(registry, "unreadable") == 0


async def test_version_changes_with_every_grist_commit_and_is_none_without_a_file(
    grist_peer: GristPeer, hybrid: tuple[HybridStore, str, CollectorRegistry], tmp_path: Path
) -> None:
    store, doc, _ = hybrid
    before = await store.version(doc)
    assert before is not None and await store.version(doc) == before
    await store.add_records(doc, "Suppliers", [{"name": "versioned"}])
    assert await store.version(doc) not in (None, before)
    elsewhere = _hybrid(grist_peer, doc, tmp_path, CollectorRegistry())
    try:
        assert await elsewhere.version(doc) is None  # read through REST: never cached
    finally:
        await elsewhere.aclose()


async def test_metadata_tables_are_read_through_grist(
    hybrid: tuple[HybridStore, str, CollectorRegistry],
) -> None:
    store, doc, _ = hybrid
    tables = await store.fetch_records(doc, "_grist_Tables", RecordQuery())
    assert "Products" in {t["fields"]["tableId"] for t in tables}


async def test_missing_or_unreadable_file_falls_back_to_rest(
    grist_peer: GristPeer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc = grist_peer.upload(SHOP_GRIST, "Shop")
    registry = CollectorRegistry()
    elsewhere = tmp_path / "docs"
    elsewhere.mkdir()
    store = _hybrid(grist_peer, doc, elsewhere, registry)
    try:
        with caplog.at_level(logging.INFO, logger="gristops.store.hybrid.store"):
            expected = await store.server.fetch_records(doc, "Suppliers", RecordQuery())
            assert await store.fetch_records(doc, "Suppliers", RecordQuery()) == expected
            assert await store.fetch_records(doc, "Suppliers", RecordQuery()) == expected
            assert _fallbacks(registry, "missing") == 2
            (elsewhere / f"{doc}.grist").write_bytes(b"not a sqlite file" * 300)
            assert await store.fetch_records(doc, "Suppliers", RecordQuery()) == expected
            assert _fallbacks(registry, "unreadable") == 1
            shutil.copyfile(grist_peer.doc_file(doc), elsewhere / f"{doc}.grist")
            assert await store.fetch_records(doc, "Suppliers", RecordQuery()) == expected
            assert _fallbacks(registry, "unreadable") == 1
        with pytest.raises(NotFound, match='Table not found "Nope"'):
            await store.fetch_records(doc, "Nope", RecordQuery())
    finally:
        await store.aclose()
    lines = [r.getMessage() for r in caplog.records]
    # One line when the fallback starts (per reason), one when the file is read again.
    assert sum("reading it through Grist's REST API" in line for line in lines) == 2
    assert sum("reading its file again" in line for line in lines) == 1


def _config(root: Path, grist: GristPeer, doc_id: str, extra: str) -> Path:
    path = root / "gristops.yaml"
    path.write_text(
        f"data_dir: data\ngrist:\n{grist.server_keys(root)}  document_id: {doc_id}\n{extra}"
    )
    return path


def _check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", "config", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_config_check_accepts_the_servers_folder_and_refuses_another(
    grist_peer: GristPeer, tmp_path: Path
) -> None:
    doc = grist_peer.upload(SHOP_GRIST, "Shop")
    good = _config(tmp_path, grist_peer, doc, f"  docs_dir: {grist_peer.docs_dir}\n")
    result = _check(good)
    assert result.returncode == 0, result.stderr
    assert "hybrid" in result.stdout
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(SHOP_GRIST, other / "Shop.grist")
    bad = _config(tmp_path, grist_peer, doc, f"  docs_dir: {other}\n")
    result = _check(bad)
    assert result.returncode == 2
    assert "holds no documents of" in result.stderr
    assert "GRIST_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_refuses_embedded_store_on_grist_folder(
    grist_peer: GristPeer, tmp_path: Path
) -> None:
    grist_peer.upload(SHOP_GRIST, "Shop")
    config = tmp_path / "gristops.yaml"
    # data_dir/docs is the Grist server's own documents folder.
    config.write_text(f"data_dir: {grist_peer.data_dir}\ngrist: {{document_id: Shop}}\n")
    result = _check(config)
    assert result.returncode == 2
    assert "is used by a Grist server" in result.stderr
    assert "bypass Grist" in result.stderr
