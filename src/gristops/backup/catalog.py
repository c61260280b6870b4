"""The backup catalog in the state DB: what each run did, and what each target holds."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gristops.backup.manifest import Manifest
from gristops.state.db import StateDB


@dataclass(frozen=True)
class RunRecord:
    action: str
    target: str | None
    snapshot_id: str | None
    started_at: float
    finished_at: float
    ok: bool
    bytes: int | None
    detail: str


class Catalog:
    """Reads and writes `backup_runs` and `backup_snapshots`."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record_run(
        self,
        action: str,
        *,
        started_at: float,
        ok: bool,
        target: str | None = None,
        snapshot_id: str | None = None,
        size: int | None = None,
        detail: str = "",
    ) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO backup_runs (action, target, snapshot_id, started_at, finished_at,"
                " ok, bytes, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (action, target, snapshot_id, started_at, time.time(), int(ok), size, detail),
            )

    def record_snapshot(self, target: str, manifest: Manifest) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO backup_snapshots (target, snapshot_id, created_at, size, new_bytes,"
                " files) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target, snapshot_id) DO UPDATE"
                " SET size = excluded.size, new_bytes = excluded.new_bytes, files = excluded.files",
                (
                    target,
                    manifest.id,
                    manifest.created,
                    manifest.size,
                    manifest.new_bytes,
                    len(manifest.files),
                ),
            )

    def mark_verified(self, target: str, manifest: Manifest) -> None:
        self.record_snapshot(target, manifest)
        with self.state.transaction() as conn:
            conn.execute(
                "UPDATE backup_snapshots SET verified_at = ? WHERE target = ? AND snapshot_id = ?",
                (time.time(), target, manifest.id),
            )

    def forget_snapshot(self, target: str, snapshot_id: str) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "DELETE FROM backup_snapshots WHERE target = ? AND snapshot_id = ?",
                (target, snapshot_id),
            )

    def snapshots(self, target: str) -> dict[str, tuple[int, int, float | None]]:
        """snapshot id -> (size, new bytes, verified at) for `target`."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT snapshot_id, size, new_bytes, verified_at FROM backup_snapshots"
                " WHERE target = ?",
                (target,),
            ).fetchall()
        return {str(r[0]): (int(r[1]), int(r[2]), r[3]) for r in rows}

    def last_success(self, action: str) -> dict[str | None, float]:
        """Per target (None for untargeted actions), when `action` last succeeded."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT target, max(finished_at) FROM backup_runs WHERE action = ? AND ok = 1"
                " GROUP BY target",
                (action,),
            ).fetchall()
        return {r[0]: float(r[1]) for r in rows}

    def last(self, action: str) -> RunRecord | None:
        with self.state.reading() as conn:
            row = conn.execute(
                "SELECT action, target, snapshot_id, started_at, finished_at, ok, bytes, detail"
                " FROM backup_runs WHERE action = ? ORDER BY finished_at DESC, id DESC LIMIT 1",
                (action,),
            ).fetchone()
        if row is None:
            return None
        return RunRecord(
            str(row[0]),
            row[1],
            row[2],
            float(row[3]),
            float(row[4]),
            bool(row[5]),
            row[6],
            str(row[7] or ""),
        )

    def latest_snapshot_size(self) -> int | None:
        with self.state.reading() as conn:
            row = conn.execute(
                "SELECT size FROM backup_snapshots ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])
