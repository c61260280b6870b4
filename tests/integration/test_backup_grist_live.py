"""Backups of a live Grist: snapshots while it writes, a drill, a restore into the running server."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.conftest import SHOP_GRIST
from tests.integration.backup_support import cli_json
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]


def _config(root: Path, grist: GristPeer, doc: str) -> Path:
    config = root / "gristops.yaml"
    config.write_text(
        f"data_dir: data\ngrist:\n{grist.server_keys(root)}"
        f"  document_id: {doc}\n  docs_dir: {grist.docs_dir}\n"
        f"backup:\n  server_home_db: {grist.home_db}\n"
    )
    return config


def _suppliers(grist: GristPeer, doc: str) -> list[str]:
    records = grist.call("GET", f"/api/docs/{doc}/tables/Suppliers/records")["records"]
    return [r["fields"]["name"] for r in records]


def _rows(document: Path, table: str) -> int:
    with sqlite3.connect(f"{document.as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def test_snapshot_while_grist_writes_then_restore_into_the_running_server(
    grist_peer: GristPeer, tmp_path: Path
) -> None:
    doc = grist_peer.upload(SHOP_GRIST, "Shop")
    config = _config(tmp_path, grist_peer, doc)
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not stop.is_set():
            body = {"records": [{"fields": {"name": f"during backup {len(written)}"}}]}
            grist_peer.call("POST", f"/api/docs/{doc}/tables/Suppliers/records", json=body)
            written.append(1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        snapshot = cli_json(config, "run")
    finally:
        stop.set()
        writer.join()
    assert snapshot["ok"] and written
    assert [v["ok"] for v in cli_json(config, "verify", "--all")] == [True]
    assert cli_json(config, "drill")["ok"]

    # Every document Grist keeps and its home DB, each a consistent SQLite file.
    out = tmp_path / "out"
    files = cli_json(config, "restore", snapshot["snapshot"], "--to", str(out))["files"]
    paths = {f["path"] for f in files}
    assert f"docs/{doc}.grist" in paths
    assert any(p.endswith("home.sqlite3") for p in paths)
    in_snapshot = _rows(out / "docs" / f"{doc}.grist", "Suppliers")
    assert 4 <= in_snapshot <= 4 + len(written)
    expected = _suppliers(grist_peer, doc)[:in_snapshot]

    # Grist moves on, then the snapshot is restored into the running server.
    grist_peer.call(
        "POST",
        f"/api/docs/{doc}/tables/Suppliers/records",
        json={"records": [{"fields": {"name": "after the snapshot"}}]},
    )
    restored = cli_json(config, "restore", snapshot["snapshot"], "--doc", doc)
    [placed] = restored["files"]
    assert _suppliers(grist_peer, doc) == expected  # Grist serves the restored content
    kept = Path(placed["previous"])
    assert kept.stat().st_mode & 0o077 == 0
    assert _rows(kept, "Suppliers") == 4 + len(written) + 1  # what Grist served before
    # and goes on working with it.
    grist_peer.call(
        "POST",
        f"/api/docs/{doc}/tables/Suppliers/records",
        json={"records": [{"fields": {"name": "after the restore"}}]},
    )
    assert _suppliers(grist_peer, doc) == [*expected, "after the restore"]
