"""A write that waits for the lock while a restore swaps the document lands in the new file."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from pathlib import Path

from gristops.store.file.store import GristFileStore


def _names(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT name FROM Suppliers ORDER BY id")]


async def test_write_waiting_on_a_restore_goes_to_the_restored_file(shop_docs: Path) -> None:
    live = shop_docs / "Shop.grist"
    restored = shop_docs / "restored.tmp"
    shutil.copyfile(live, restored)
    with sqlite3.connect(restored) as db:
        db.execute("UPDATE Suppliers SET name = 'restored ' || name")
    store = GristFileStore(shop_docs)
    try:
        await store.list_tables("Shop")  # the store knows the old file
        # The restore: hold the live file exclusively, swap the verified copy in, release.
        lock = sqlite3.connect(live, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        write = asyncio.create_task(store.add_records("Shop", "Suppliers", [{"name": "new one"}]))
        await asyncio.sleep(0.3)  # the write is now waiting for the lock
        assert not write.done()
        os.replace(restored, live)
        lock.execute("ROLLBACK")
        lock.close()
        await asyncio.wait_for(write, 20)
    finally:
        await store.aclose()
    names = _names(live)
    assert names[-1] == "new one"
    assert all(name.startswith("restored ") for name in names[:-1])
