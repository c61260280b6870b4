"""`gristops replicate [--once|--status]`: continuous replication of the documents and state DB,
and `gristops backup restore --point-in-time` from that replica."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.table import Table

from gristops.backup.replication.replicate import (
    CHECK_INTERVAL,
    STATE_DB,
    databases,
    document_path,
    replica_for,
    replicate_once,
    restore_in_place,
    restore_point_in_time,
)
from gristops.backup.replication.service import run_replication
from gristops.backup.replication.status import ReplicationStatus, read_status
from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config import Config
from gristops.errors import BadRequest
from gristops.observe.logging import configure_logging
from gristops.store.location import document_file


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _lag(seconds: float) -> str:
    return "never replicated" if math.isinf(seconds) else f"{seconds:.1f} s"


def _rows(status: ReplicationStatus) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "db": db.name,
            "path": db.path,
            "replica": db.replica,
            "txid": db.txid,
            "replicated_at": db.replicated_at,
            "lag_seconds": None if math.isinf(lag) else round(lag, 3),
        }
        for db in status.databases
        for lag in (status.lag(db, now),)
    ]


def _show(status: ReplicationStatus, json: bool) -> None:
    rows = _rows(status)
    running = status.fresh(time.time())
    if json:
        emit_json({"running": running, "checked_at": status.checked_at, "databases": rows})
        return
    out.print(
        f"replication {'running' if running else 'not running'}; "
        f"last checked {_when(status.checked_at)}"
    )
    table = Table("db", "replicated up to", "lag", "replica", box=None)
    for row in rows:
        lag = math.inf if row["lag_seconds"] is None else row["lag_seconds"]
        table.add_row(row["db"], _when(row["replicated_at"]), _lag(lag), row["replica"])
    out.print(table)


def _status(cfg: Config, json: bool) -> None:
    replica_for(cfg)  # a clear error when replication is not configured
    status = read_status(cfg)
    if status is None:
        if json:
            emit_json({"running": False, "checked_at": None, "databases": []})
        else:
            out.print("replication has not run here yet: start `gristops replicate`")
        return
    _show(status, json)


def _serve(cfg: Config, interval: float) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    names = sorted(databases(cfg))
    out.print(
        f"replicating {len(names)} database(s) to {replica_for(cfg).describe('')}: "
        f"{', '.join(names)}"
    )
    run_replication(cfg, stop, interval=interval)
    out.print("replication stopped")


def replicate(
    once: Annotated[
        bool, typer.Option("--once", help="Sync every database once and exit.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Show each database's replicated position and lag.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(help="Seconds between checks of the replicas' positions.", min=0.2),
    ] = CHECK_INTERVAL,
    config: ConfigOption = DEFAULT_CONFIG,
    json: JsonOption = False,
) -> None:
    """Replicate every document and the state DB continuously with Litestream (until stopped)."""
    if once and status:
        raise BadRequest("--once and --status do not go together", "pick one")
    cfg = load(config)
    configure_logging(cfg.log.level, cfg.log.json_lines)
    if status:
        _status(cfg, json)
    elif once:
        # Just synced: show the positions as live, not as a stopped service's.
        _show(replace(replicate_once(cfg), running=True), json)
    else:
        _serve(cfg, interval)


def restore_from_replica(
    cfg: Config,
    snapshot: str | None,
    when: str | None,
    docs: list[str],
    to: Path | None,
    json: bool,
    confirm: Callable[[], None],
) -> None:
    """`gristops backup restore --point-in-time TIME --doc ID [--to DIR]`: from the replica.

    `confirm` runs once the request is valid, before anything is restored.
    """
    if snapshot is not None:
        raise BadRequest("give a snapshot or --point-in-time, not both", "drop one of them")
    if when is None:
        raise BadRequest(
            "no snapshot given", "give a snapshot id (or 'latest'), or --point-in-time TIME"
        )
    try:
        at = datetime.fromisoformat(when)
    except ValueError:
        raise BadRequest(
            f"--point-in-time {when!r} is not an ISO 8601 time", "e.g. 2026-05-01T12:00:00Z"
        ) from None
    if not docs:
        raise BadRequest("--point-in-time needs --doc", "name each document to restore (doc id)")
    confirm()
    files = []
    for doc_id in docs:
        if to is not None:
            placed = restore_point_in_time(cfg, doc_id, at, to / _file_name(doc_id))
            files.append({"doc": doc_id, "placed_at": str(placed), "previous": None})
        else:
            previous = restore_in_place(cfg, doc_id, at)
            placed = document_path(cfg, doc_id)
            files.append({"doc": doc_id, "placed_at": str(placed), "previous": _str(previous)})
    if json:
        emit_json({"point_in_time": at.isoformat(), "files": files})
        return
    out.print(f"restored from the replica as of {at.isoformat()}:")
    for f in files:
        kept = f" (previous kept as {f['previous']})" if f["previous"] else ""
        out.print(f"  {f['placed_at']}{kept}")


def _file_name(doc_id: str) -> str:
    return doc_id if doc_id == STATE_DB else document_file(Path(), doc_id).name


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
