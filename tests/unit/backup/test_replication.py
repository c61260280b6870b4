"""Replication without Litestream: which databases, WAL checks, lag rules, the gauge, refusals."""

from __future__ import annotations

import math
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from gristops.backup.replication.metrics import metric_families
from gristops.backup.replication.replicate import (
    check_server_documents,
    databases,
    document_path,
    journal_is_wal,
    restore_point_in_time,
)
from gristops.backup.replication.status import (
    DatabaseStatus,
    ReplicationStatus,
    read_status,
    write_status,
)
from gristops.config import Config, load_config
from gristops.errors import GristopsError, NotFound
from gristops.state.db import StateDB
from tests.conftest import SHOP_GRIST

REPLICATE = (
    "backup:\n  targets: {disk: {kind: local, path: backups}}\n  replicate: {targets: [disk]}\n"
)


def site(root: Path, extra: str = REPLICATE, grist: str = "grist: {document_id: Shop}\n") -> Config:
    docs = root / "data" / "docs"
    docs.mkdir(parents=True)
    shutil.copyfile(SHOP_GRIST, docs / "Shop.grist")
    (root / "gristops.yaml").write_text(f"data_dir: data\n{grist}{extra}")
    return load_config(root / "gristops.yaml")


def test_documents_and_the_state_db_are_replicated_by_name(tmp_path: Path) -> None:
    config = site(tmp_path)
    assert set(databases(config)) == {"Shop"}
    StateDB(config.state_path)
    (config.docs_dir / "notes.txt").write_text("not a document")
    assert set(databases(config)) == {"Shop", "state.db"}
    assert document_path(config, "Lost") == (config.docs_dir / "Lost.grist").resolve()
    with pytest.raises(NotFound):
        document_path(config, "../etc/passwd")


def test_journal_mode_is_read_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "d.grist"
    shutil.copyfile(SHOP_GRIST, path)
    assert not journal_is_wal(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    assert journal_is_wal(path)


def test_grist_server_documents_not_in_wal_mode_are_refused(tmp_path: Path) -> None:
    server = tmp_path / "grist"
    server.mkdir()
    shutil.copyfile(SHOP_GRIST, server / "Shop.grist")
    config = site(
        tmp_path,
        REPLICATE + f"  server_data_dir: {server}\n",
        "grist: {base_url: 'http://127.0.0.1:9', api_key: k, document_id: Shop}\n",
    )
    with pytest.raises(GristopsError, match="not in WAL mode: Shop") as refused:
        check_server_documents(config, databases(config))
    assert "GRIST_SQLITE_MODE=wal" in refused.value.hint


def status(*, running: bool, checked_at: float, db: DatabaseStatus) -> ReplicationStatus:
    return ReplicationStatus(checked_at, 1.0, running, (db,))


def test_lag_counts_the_oldest_unreplicated_change_while_running() -> None:
    now = time.time()
    waiting = DatabaseStatus("Shop", "/d", "/r", 7, now - 100, now - 2)
    caught_up = DatabaseStatus("Shop", "/d", "/r", 7, now - 100, None)
    assert status(running=True, checked_at=now, db=waiting).lag(waiting, now) == pytest.approx(2)
    assert status(running=True, checked_at=now, db=caught_up).lag(caught_up, now) == 0


def test_lag_counts_from_the_last_replicated_change_once_stopped() -> None:
    now = time.time()
    db = DatabaseStatus("Shop", "/d", "/r", 7, now - 100, None)
    assert status(running=False, checked_at=now, db=db).lag(db, now) == pytest.approx(100)
    silent = status(running=True, checked_at=now - 60, db=db)
    assert silent.lag(db, now) == pytest.approx(100)
    never = DatabaseStatus("Shop", "/d", "/r", None, None, None)
    assert math.isinf(status(running=False, checked_at=now, db=never).lag(never, now))


def test_the_gauge_reads_the_recorded_status(tmp_path: Path) -> None:
    config = site(tmp_path)
    state = StateDB(config.state_path)
    assert metric_families(config, state) == []
    now = time.time()
    db = DatabaseStatus("Shop", "/d", "/r", 3, now - 10, now - 4)
    write_status(config, status(running=True, checked_at=now, db=db))
    assert read_status(config) == status(running=True, checked_at=now, db=db)
    [family] = metric_families(config, state)
    assert family.name == "gristops_replication_lag_seconds"
    [sample] = family.samples
    assert sample.labels == {"db": "Shop"} and sample.value >= 4


def test_restore_refuses_before_touching_anything(tmp_path: Path) -> None:
    config = site(tmp_path)
    with pytest.raises(GristopsError, match="no time zone"):
        restore_point_in_time(config, "Shop", datetime(2026, 1, 1), tmp_path / "out.grist")
    taken = tmp_path / "taken.grist"
    taken.write_text("keep")
    with pytest.raises(GristopsError, match="already exists"):
        restore_point_in_time(config, "Shop", None, taken)
    assert taken.read_text() == "keep"
    off = site(tmp_path / "off", extra="")
    with pytest.raises(GristopsError, match="replication is off"):
        restore_point_in_time(off, "Shop", None, tmp_path / "new.grist")
