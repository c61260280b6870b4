"""Continuous replication of every document and the state DB with Litestream, and
point-in-time restore from the replica.

Databases: the state DB (named `state.db`) and each document, named by its
doc id (`docs_dir/<id>.grist` for the embedded store, or the `.grist` files
of `backup.server_data_dir` for a Grist server on this host). They go to the
one target named in `backup.replicate.targets` (local or s3), under
`replication/<name>`. Litestream switches a database to WAL mode and holds a
read lock; writers wait on their busy timeout. A Grist server must itself
run in WAL mode (GRIST_SQLITE_MODE=wal), or its DELETE-mode writes would
fight Litestream: `plan()` refuses such documents.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from gristops.backup.replication.status import (
    DatabaseStatus,
    ReplicationStatus,
    read_status,
    workdir,
    write_status,
)
from gristops.backup.swap import swap_into_place
from gristops.config import Config
from gristops.config.backup import LocalTargetConfig, S3TargetConfig
from gristops.errors import ConfigError, GristopsError, NotFound
from gristops.runtime import litestream
from gristops.runtime.litestream import Replica
from gristops.store.location import document_file, documents, is_doc_id

log = structlog.get_logger("gristops.backup")

STATE_DB = "state.db"  # doc ids never hold a dot, so this name cannot clash
REPLICA_DIR = "replication"
CHECK_INTERVAL = 5.0
_WAL_HEADER_OFFSET = 18  # SQLite header bytes 18-19: 2 means WAL


@dataclass(frozen=True)
class Plan:
    """What one Litestream process replicates, and where."""

    databases: dict[str, Path]
    replica: Replica
    config_path: Path


def replica_for(config: Config) -> Replica:
    """The replica location from backup.replicate.targets; ConfigError when replication is off."""
    names = config.backup.replicate.targets
    if not names:
        raise ConfigError(
            "replication is off: backup.replicate.targets names no target",
            "add a local or s3 target to backup.targets and name it in backup.replicate.targets",
        )
    target = config.backup.targets[names[0]]
    if isinstance(target, LocalTargetConfig):
        root = target.path if target.path.is_absolute() else config.data_dir / target.path
        return Replica(root=root.resolve() / REPLICA_DIR)
    if isinstance(target, S3TargetConfig):
        prefix = target.prefix.strip("/")
        return Replica(
            bucket=target.bucket,
            prefix=f"{prefix}/{REPLICA_DIR}/" if prefix else f"{REPLICA_DIR}/",
            endpoint=target.endpoint_url,
            region=target.region,
            access_key_id=target.access_key_id.get_secret_value() if target.access_key_id else "",
            secret_access_key=(
                target.secret_access_key.get_secret_value() if target.secret_access_key else ""
            ),
            skip_verify=not target.verify_tls,
        )
    raise ConfigError(f"replicate target {names[0]!r} is kind {target.kind}", "use local or s3")


def documents_dir(config: Config) -> Path | None:
    """Where the replicated documents live: the embedded docs, or a Grist server's data dir."""
    return config.docs_dir if config.embedded else config.backup.server_data_dir


def document_path(config: Config, doc_id: str) -> Path:
    """The file of `doc_id` (which need not exist: it may be the one to restore)."""
    directory = documents_dir(config)
    if directory is None or not is_doc_id(doc_id):
        raise NotFound(
            f"no replicated document {doc_id!r}",
            "give a doc id from `gristops replicate --status` (or state.db)",
        )
    return document_file(directory.resolve(), doc_id)


def databases(config: Config) -> dict[str, Path]:
    """Every database to replicate, by name (the state DB once a gristops process made it)."""
    found = {STATE_DB: config.state_path.resolve()} if config.state_path.exists() else {}
    directory = documents_dir(config)
    if directory is not None:
        found.update({doc_id: path.resolve() for doc_id, path in documents(directory).items()})
    return found


def journal_is_wal(path: Path) -> bool:
    """True when the SQLite file at `path` is in WAL mode (read from its header)."""
    with path.open("rb") as f:
        f.seek(_WAL_HEADER_OFFSET)
        return f.read(2) == b"\x02\x02"


def check_server_documents(config: Config, dbs: dict[str, Path]) -> None:
    """Refuse a Grist server's documents that are not in WAL mode (Grist writes them too)."""
    if config.embedded:
        return
    not_wal = sorted(
        name for name, path in dbs.items() if name != STATE_DB and not journal_is_wal(path)
    )
    if not_wal:
        shown = ", ".join(not_wal[:5]) + (
            f" and {len(not_wal) - 5} more" if len(not_wal) > 5 else ""
        )
        raise GristopsError(
            f"Grist documents in {config.backup.server_data_dir} are not in WAL mode: {shown}",
            "run Grist with GRIST_SQLITE_MODE=wal and open each document once, then retry",
        )


def plan(config: Config) -> Plan:
    """Check the databases and write the Litestream config for them."""
    replica = replica_for(config)
    dbs = databases(config)
    if not dbs:
        raise NotFound(
            f"nothing to replicate: no state DB and no document under {config.data_dir}",
            "run `gristops init` (or the gateway) first",
        )
    check_server_documents(config, dbs)
    return _write_plan(config, dbs, replica, workdir(config) / "litestream.yml")


def _write_plan(config: Config, dbs: dict[str, Path], replica: Replica, path: Path) -> Plan:
    section = config.backup.replicate
    text = litestream.render_config(
        dbs,
        replica,
        sync_interval=section.sync_interval,
        snapshot_interval=section.snapshot_interval,
        retention=section.retention,
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(text)
    return Plan(dbs, replica, path)


def check(config: Config, current: Plan, *, running: bool, interval: float) -> ReplicationStatus:
    """Read each replica's newest position, record it, and return it."""
    rows = []
    for name, path in sorted(current.databases.items()):
        position = litestream.replica_position(current.config_path, path, current.replica)
        txid = position.txid if position else None
        rows.append(
            DatabaseStatus(
                name=name,
                path=str(path),
                replica=current.replica.describe(name),
                txid=txid,
                replicated_at=position.at if position else None,
                pending_since=litestream.pending_since(path, txid or 0),
            )
        )
    status = ReplicationStatus(time.time(), interval, running, tuple(rows))
    write_status(config, status)
    return status


def replicate_once(config: Config) -> ReplicationStatus:
    """Sync every database to its replica once, then record the positions."""
    current = plan(config)
    litestream.sync_once(current.config_path, current.replica)
    status = check(config, current, running=False, interval=CHECK_INTERVAL)
    return status


def restore_point_in_time(
    config: Config, doc_id: str, timestamp: datetime | None, out_path: Path
) -> Path:
    """Rebuild document `doc_id` (or `state.db`) as it was at `timestamp` into `out_path`.

    `timestamp` None restores the newest replicated state. The live file is
    never touched: move the result into place yourself (GristFileStore notices
    a replaced file and reopens it).
    """
    if timestamp is not None and timestamp.tzinfo is None:
        raise GristopsError(
            f"the time {timestamp.isoformat()} has no time zone",
            "give it with one, e.g. 2026-05-01T12:00:00Z",
        )
    if out_path.exists():
        raise GristopsError(
            f"{out_path} already exists; restore never overwrites a file",
            "choose a new output path, or move the existing file away",
        )
    replica = replica_for(config)
    source = config.state_path.resolve() if doc_id == STATE_DB else document_path(config, doc_id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gristops-restore-") as tmp:
        one = _write_plan(config, {doc_id: source}, replica, Path(tmp) / "litestream.yml")
        litestream.restore(one.config_path, source, out_path.resolve(), replica, timestamp)
    log.info(
        "restored from replica", db=doc_id, at=timestamp.isoformat() if timestamp else "latest"
    )
    return out_path


def restore_in_place(config: Config, doc_id: str, timestamp: datetime | None) -> Path | None:
    """Replace the live document `doc_id` by its replica as of `timestamp`.

    Returns where the previous file was kept (`<doc>.grist.pre-restore`), or
    None when there was none. Refused while `gristops replicate` runs: Litestream
    would go on from the replaced file's position.
    """
    status = read_status(config)
    if status is not None and status.fresh(time.time()):
        raise GristopsError(
            "gristops replicate is running; it must be stopped to restore a document in place",
            "stop it, restore, then start it again (it snapshots the restored document)",
        )
    live = document_path(config, doc_id)
    staged = live.parent / f".{doc_id}.point-in-time-{secrets.token_hex(4)}.grist"
    try:
        restore_point_in_time(config, doc_id, timestamp, staged)
        return swap_into_place(staged, live)
    finally:
        staged.unlink(missing_ok=True)
