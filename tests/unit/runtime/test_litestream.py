"""Litestream's config as gristops writes it, and reading its captured-change files."""

from __future__ import annotations

import secrets
import struct
from pathlib import Path

import yaml

from gristops.runtime.litestream import Replica, pending_since, render_config


def test_one_replica_per_database_and_no_secret_in_the_file() -> None:
    signing = secrets.token_hex(12)
    replica = Replica(
        bucket="archive",
        prefix="site/replication/",
        endpoint="http://127.0.0.1:8333",
        access_key_id="AKIDEXAMPLE",
        secret_access_key=signing,
    )
    text = render_config(
        {"Shop": Path("/d/Shop.grist"), "state.db": Path("/d/state.db")},
        replica,
        sync_interval=0.5,
        snapshot_interval=3600,
        retention=86400,
    )
    assert signing not in text and "AKIDEXAMPLE" not in text
    config = yaml.safe_load(text)
    assert config["snapshot"] == {"interval": "3600s", "retention": "86400s"}
    shop = config["dbs"][0]
    assert shop["path"] == "/d/Shop.grist"
    assert shop["replica"]["path"] == "site/replication/Shop"
    assert shop["replica"]["secret-access-key"] == "${GRISTOPS_LITESTREAM_SECRET_ACCESS_KEY}"
    assert shop["replica"]["sync-interval"] == "0.5s"
    assert "replicas" not in shop
    assert replica.env()["GRISTOPS_LITESTREAM_SECRET_ACCESS_KEY"] == signing
    assert signing not in repr(replica)


def test_file_replica_goes_to_a_directory_per_database() -> None:
    replica = Replica(root=Path("/backups/replication"))
    config = yaml.safe_load(
        render_config(
            {"Shop": Path("/d/Shop.grist")},
            replica,
            sync_interval=1,
            snapshot_interval=60,
            retention=3600,
        )
    )
    assert config["dbs"][0]["replica"] == {
        "type": "file",
        "path": "/backups/replication/Shop",
        "sync-interval": "1s",
    }
    assert replica.describe("Shop") == "/backups/replication/Shop"


def _ltx(directory: Path, low: int, high: int, at_ms: int) -> None:
    header = struct.pack(">4sIIIQQq", b"LTX1", 0, 4096, 2, low, high, at_ms)
    (directory / f"{low:016x}-{high:016x}.ltx").write_bytes(header + b"\0" * 64)


def test_pending_since_is_the_oldest_capture_not_in_the_replica(tmp_path: Path) -> None:
    db = tmp_path / "Shop.grist"
    assert pending_since(db, 0) is None
    captured = tmp_path / ".Shop.grist-litestream" / "ltx" / "0"
    captured.mkdir(parents=True)
    _ltx(captured, 1, 1, 1_000_000)
    _ltx(captured, 2, 3, 2_000_500)
    _ltx(captured, 4, 4, 3_000_000)
    assert pending_since(db, 1) == 2000.5
    assert pending_since(db, 3) == 3000.0
    assert pending_since(db, 4) is None
