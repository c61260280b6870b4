"""What `gristops replicate` last saw of each database, and the replication lag it implies.

The replicate service writes `data_dir/replication/status.json` after every
check: per database, the replica's newest position and when Litestream
captured the oldest change the replica does not hold yet. Readers (`--status`,
the metrics) never start a program: they read this file.

Lag is how long the oldest unreplicated change has been waiting: 0 when the
replica holds everything Litestream captured. When the service has stopped
checking (the file is stale), nothing after the replica's newest position is
vouched for, so lag counts from that position.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gristops.config import Config
from gristops.files import write_atomic

STATUS_FILE = "status.json"
# Checks missed before the recorded positions no longer count as live.
STALE_AFTER_CHECKS = 3


@dataclass(frozen=True)
class DatabaseStatus:
    name: str
    path: str
    replica: str
    txid: int | None
    replicated_at: float | None
    pending_since: float | None


@dataclass(frozen=True)
class ReplicationStatus:
    checked_at: float
    check_interval: float
    running: bool
    databases: tuple[DatabaseStatus, ...]

    def fresh(self, now: float) -> bool:
        return self.running and now - self.checked_at <= STALE_AFTER_CHECKS * self.check_interval

    def lag(self, db: DatabaseStatus, now: float) -> float:
        """Seconds the oldest change not yet in the replica has waited (inf: never replicated)."""
        if self.fresh(now):
            return 0.0 if db.pending_since is None else max(0.0, now - db.pending_since)
        if db.replicated_at is None:
            return math.inf
        return max(0.0, now - db.replicated_at)


def workdir(config: Config) -> Path:
    """Where replication keeps its Litestream config, log and status."""
    return config.data_dir / "replication"


def write_status(config: Config, status: ReplicationStatus) -> None:
    """Replace the status file atomically (readers see the old or the new one)."""
    path = workdir(config) / STATUS_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(status), indent=1))


def read_status(config: Config) -> ReplicationStatus | None:
    """The last recorded status; None when replication never ran here."""
    try:
        raw = json.loads((workdir(config) / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return ReplicationStatus(
        checked_at=float(raw["checked_at"]),
        check_interval=float(raw["check_interval"]),
        running=bool(raw["running"]),
        databases=tuple(DatabaseStatus(**db) for db in raw["databases"]),
    )


def mark_stopped(config: Config) -> None:
    """Record that the service stopped: lag counts from the replicated positions from now on."""
    status = read_status(config)
    if status is not None:
        write_status(
            config,
            ReplicationStatus(time.time(), status.check_interval, False, status.databases),
        )
