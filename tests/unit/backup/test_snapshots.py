"""Snapshots end to end through the engine: run, verify, restore, drill, prune, metrics."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from prometheus_client.core import Metric

from gristops.backup.drill import drill
from gristops.backup.manifest import snapshot_key
from gristops.backup.metrics import metric_families
from gristops.backup.prune import prune
from gristops.backup.restore import restore_snapshot
from gristops.backup.run import run_backup
from gristops.backup.verify import verify_snapshot
from gristops.config import Config
from gristops.errors import BadRequest, ConfigError, CorruptBlob, NotFound, SnapshotDamaged
from gristops.state.db import StateDB
from gristops.state.throttle import FailureKey, LoginFailures
from tests.support.postgres import Cluster
from tests.unit.backup.conftest import archive_of, make_config, sha256


def _add_product(doc: Path, name: str) -> None:
    with sqlite3.connect(doc) as conn:
        conn.execute("INSERT INTO Products (name) VALUES (?)", (name,))


def _product_names(doc: Path) -> list[str]:
    with sqlite3.connect(doc) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM Products")]


def _value(families: list[Metric], name: str) -> float:
    return next(s.value for f in families for s in f.samples if s.name == name)


def test_a_snapshot_holds_documents_state_and_config_and_verifies(
    config: Config, state: StateDB
) -> None:
    result = run_backup(config, state)
    assert result.ok
    manifest = archive_of(config).manifest(result.snapshot_id)
    paths = {f.path for f in manifest.files}
    assert {"docs/Shop.grist", "state/state.db", "config/gristops.yaml"} <= paths
    doc = manifest.documents()[0]
    assert doc.sqlite is not None and doc.sqlite["integrity"] == "ok"
    assert doc.sqlite["tables"]["Products"] > 0
    assert verify_snapshot(config, state, archive_of(config), result.snapshot_id).ok


def test_an_unchanged_document_adds_under_one_percent(config: Config, state: StateDB) -> None:
    run_backup(config, state)
    second = run_backup(config, state)
    doc_size = (config.docs_dir / "Shop.grist").stat().st_size
    assert second.outcomes[0].new_bytes < doc_size / 100


def test_restore_to_a_folder_touches_nothing_live(config: Config, state: StateDB) -> None:
    snap = run_backup(config, state).snapshot_id
    live = config.docs_dir / "Shop.grist"
    _add_product(live, "after the backup")
    before = sha256(live)
    out = config.data_dir.parent / "restored"
    restore_snapshot(config, state, archive_of(config), snap, to_dir=out)
    assert sha256(live) == before
    assert (out / "config" / "gristops.yaml").read_text() == config.source_path.read_text()  # type: ignore[union-attr]
    assert "after the backup" not in _product_names(out / "docs" / "Shop.grist")
    with pytest.raises(BadRequest, match="live documents folder"):
        restore_snapshot(config, state, archive_of(config), snap, to_dir=config.docs_dir)


def test_live_restore_swaps_and_keeps_the_previous_document(config: Config, state: StateDB) -> None:
    snap = run_backup(config, state).snapshot_id
    live = config.docs_dir / "Shop.grist"
    _add_product(live, "mistake")
    changed = sha256(live)
    result = restore_snapshot(config, state, archive_of(config), snap, doc_ids=("Shop",))
    assert sha256(live) == archive_of(config).manifest(snap).documents()[0].sha256
    assert "mistake" not in _product_names(live)
    assert result.files[0].previous is not None
    assert sha256(Path(result.files[0].previous)) == changed
    with pytest.raises(NotFound, match="no document Nope"):
        restore_snapshot(config, state, archive_of(config), snap, doc_ids=("Nope",))


def _first_chunk(config: Config, snapshot_id: str) -> Path:
    doc = archive_of(config).manifest(snapshot_id).documents()[0]
    return config.data_dir / "backups" / "chunks" / doc.chunks[0][:2] / doc.chunks[0]


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: _flip(p, len(p.read_bytes()) // 2), "damaged|checksum|wrong key"),
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "damaged|checksum|wrong key"),
        (lambda p: p.unlink(), "missing"),
    ],
    ids=["flipped-byte", "truncated", "missing"],
)
def test_a_damaged_chunk_is_found_by_verify_and_refused_by_restore(
    tmp_path: Path, damage: object, message: str
) -> None:
    config = make_config(tmp_path, "backup: {encryption: {passphrase: pw}}\n")
    state = StateDB(config.state_path)
    snap = run_backup(config, state).snapshot_id
    damage(_first_chunk(config, snap))  # type: ignore[operator]
    result = verify_snapshot(config, state, archive_of(config), snap)
    assert not result.ok and any(m for m in result.problems if "docs/Shop.grist" in m)
    live = config.docs_dir / "Shop.grist"
    before = sha256(live)
    with pytest.raises(SnapshotDamaged, match=message):
        restore_snapshot(config, state, archive_of(config), snap)
    assert sha256(live) == before
    assert not list(config.docs_dir.glob("*.pre-restore"))


def test_a_damaged_or_foreign_manifest_is_refused(config: Config, state: StateDB) -> None:
    snap = run_backup(config, state).snapshot_id
    manifest = config.data_dir / "backups" / snapshot_key(snap)
    _flip(manifest, 20)
    assert not verify_snapshot(config, state, archive_of(config), snap).ok
    manifest.write_text('{"format": "something-else/1", "files": []}')
    problems = verify_snapshot(config, state, archive_of(config), snap).problems
    assert "not a gristops archive blob" in problems[0]
    with pytest.raises(CorruptBlob):
        restore_snapshot(config, state, archive_of(config), snap)


def test_a_wrong_key_is_named_as_such(tmp_path: Path) -> None:
    config = make_config(tmp_path, "backup: {encryption: {passphrase: right}}\n")
    state = StateDB(config.state_path)
    snap = run_backup(config, state).snapshot_id
    wrong = make_config(tmp_path, "backup: {encryption: {passphrase: wrong}}\n")
    problems = verify_snapshot(wrong, state, archive_of(wrong), snap).problems
    assert "wrong key" in problems[0]


def test_drill_reads_every_table_and_feeds_the_metrics(config: Config, state: StateDB) -> None:
    run_backup(config, state)
    result = drill(config, state, archive_of(config))
    assert result.ok and result.documents == 1 and result.tables >= 3 and result.records > 0
    families = metric_families(config, state)
    assert _value(families, "gristops_backup_last_drill_success") == 1.0
    assert _value(families, "gristops_backup_last_success_timestamp_seconds") > 0
    assert _value(families, "gristops_backup_snapshot_bytes") > 0


def test_drill_on_a_damaged_snapshot_fails_and_says_so(config: Config, state: StateDB) -> None:
    snap = run_backup(config, state).snapshot_id
    _flip(_first_chunk(config, snap), 10)
    result = drill(config, state, archive_of(config))
    assert not result.ok and "damaged" in result.error
    assert _value(metric_families(config, state), "gristops_backup_last_drill_success") == 0.0


def test_prune_keeps_the_newest_verified_and_drops_unreferenced_chunks(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        "backup: {retention: {keep_last: 1, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}}\n",
    )
    state = StateDB(config.state_path)
    first = run_backup(config, state).snapshot_id
    assert verify_snapshot(config, state, archive_of(config), first).ok
    _add_product(config.docs_dir / "Shop.grist", "x" * 5000)
    run_backup(config, state)
    _add_product(config.docs_dir / "Shop.grist", "y" * 5000)
    newest = run_backup(config, state).snapshot_id
    dry = prune(config, state, archive_of(config), dry_run=True)
    assert len(dry.deleted) == 1 and len(archive_of(config).snapshot_ids()) == 3
    result = prune(config, state, archive_of(config))
    assert set(archive_of(config).snapshot_ids()) == {first, newest}
    assert result.chunks_deleted > 0
    for snap in (first, newest):
        assert verify_snapshot(config, state, archive_of(config), snap).ok


def test_a_grist_home_database_is_copied_consistently(tmp_path: Path) -> None:
    home = tmp_path / "home.sqlite3"
    with sqlite3.connect(home) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('owner@example.com')")
    config = make_config(tmp_path, f"backup: {{server_home_db: '{home}'}}\n")
    state = StateDB(config.state_path)
    try:
        result = run_backup(config, state)
        manifest = archive_of(config).manifest(result.snapshot_id)
        [entry] = [f for f in manifest.files if f.path.endswith("home.sqlite3")]
        assert entry.sqlite is not None and entry.sqlite["tables"]["users"] == 1
    finally:
        state.close()


def test_a_missing_grist_home_database_is_a_clear_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"backup: {{server_home_db: '{tmp_path / 'nope.sqlite3'}'}}\n")
    state = StateDB(config.state_path)
    try:
        with pytest.raises(ConfigError, match="server_home_db"):
            run_backup(config, state)
    finally:
        state.close()


def test_a_postgresql_state_is_dumped_verified_drilled_and_restorable(
    tmp_path: Path, postgres_cluster: Cluster, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRISTOPS_STATE_URL", postgres_url)
    config = make_config(tmp_path, 'state: {url: "${GRISTOPS_STATE_URL}"}\n')
    state = StateDB(config.state_location)
    LoginFailures(state).record([FailureKey("client", "10.9.8.7")], now=5.0)
    result = run_backup(config, state)
    assert result.ok
    paths = {f.path for f in archive_of(config).manifest(result.snapshot_id).files}
    assert "state/state.pgdump" in paths and "state/state.db" not in paths
    assert verify_snapshot(config, state, archive_of(config), result.snapshot_id).ok
    assert drill(config, state, archive_of(config)).ok
    restored = tmp_path / "restored"
    restore_snapshot(config, state, archive_of(config), result.snapshot_id, to_dir=restored)
    dump = next(restored.rglob("state.pgdump"))
    # The dump brings the state back into an empty database.
    name = postgres_cluster.create_database()
    pg_restore = postgres_cluster.bin_dir / "pg_restore"
    subprocess.run(
        [str(pg_restore), "--no-owner", f"--dbname={postgres_cluster.url(name)}", str(dump)],
        check=True, capture_output=True,
    )  # fmt: skip
    schema = postgres_url.rsplit("%3D", 1)[1]
    back = StateDB(f"{postgres_cluster.url(name)}?options=-csearch_path%3D{schema}")
    assert LoginFailures(back).count_since(FailureKey("client", "10.9.8.7"), 0).count == 1
    back.close()
    state.close()
