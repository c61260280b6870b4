"""Deploy state in the state DB: what each slot holds, which serves, and the history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from gristops.deploy.release import Release
from gristops.state.db import StateDB

Slot = Literal["blue", "green"]
SLOTS: tuple[Slot, Slot] = ("blue", "green")
Outcome = Literal["success", "rolled_back", "failed"]


def other(slot: Slot) -> Slot:
    return "green" if slot == "blue" else "blue"


@dataclass(frozen=True)
class SlotRecord:
    slot: Slot
    release_id: str
    version: str
    web_root: str | None
    commit_time: float | None
    installed_at: float
    active: bool


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    kind: Literal["deploy", "rollback"]
    release_id: str
    version: str
    previous_id: str | None
    slot: Slot
    actor: str
    started_at: float
    switched_at: float | None
    finished_at: float | None
    outcome: Outcome | None
    reason: str | None
    commit_time: float | None
    reverted_at: float | None


SLOT_COLUMNS = "slot, release_id, version, web_root, commit_time, installed_at, active"
HISTORY_COLUMNS = (
    "id, kind, release_id, version, previous_id, slot, actor, started_at, switched_at, "
    "finished_at, outcome, reason, commit_time, reverted_at"
)


class DeployRecords:
    """Reads and writes of the deploy tables; each call is one transaction."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def slots(self) -> dict[Slot, SlotRecord]:
        with self.state.reading() as db:
            rows = db.execute(f"SELECT {SLOT_COLUMNS} FROM deploy_slots").fetchall()  # noqa: S608
        return {
            row[0]: SlotRecord(
                slot=row[0],
                release_id=row[1],
                version=row[2],
                web_root=row[3],
                commit_time=row[4],
                installed_at=row[5],
                active=bool(row[6]),
            )
            for row in rows
        }

    def active(self) -> SlotRecord | None:
        return next((r for r in self.slots().values() if r.active), None)

    def installed(self, slot: Slot, release: Release, web_root: str | None) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM deploy_slots WHERE slot = ?", (slot,))
            db.execute(
                f"INSERT INTO deploy_slots ({SLOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0)",  # noqa: S608
                (slot, release.id, release.version, web_root, release.commit_time, time.time()),
            )

    def uninstalled(self, slot: Slot) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM deploy_slots WHERE slot = ?", (slot,))

    def activate(self, slot: Slot | None) -> None:
        """Mark `slot` as the one serving (None: neither)."""
        with self.state.transaction() as db:
            db.execute(
                "UPDATE deploy_slots SET active = CASE WHEN slot = ? THEN 1 ELSE 0 END", (slot,)
            )

    def begin(
        self,
        kind: Literal["deploy", "rollback"],
        *,
        release_id: str,
        version: str,
        previous_id: str | None,
        slot: Slot,
        actor: str,
        commit_time: float | None,
    ) -> int:
        with self.state.transaction() as db:
            row = db.execute(
                "INSERT INTO deploy_history (kind, release_id, version, previous_id, slot, actor, "
                "started_at, commit_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (kind, release_id, version, previous_id, slot, actor, time.time(), commit_time),
            ).fetchone()
            return int(row[0])

    def switched(self, entry_id: int) -> None:
        with self.state.transaction() as db:
            db.execute(
                "UPDATE deploy_history SET switched_at = ? WHERE id = ?", (time.time(), entry_id)
            )

    def finish(self, entry_id: int, outcome: Outcome, reason: str | None = None) -> None:
        with self.state.transaction() as db:
            db.execute(
                "UPDATE deploy_history SET finished_at = ?, outcome = ?, reason = ? WHERE id = ?",
                (time.time(), outcome, reason, entry_id),
            )

    def mark_reverted(self, release_id: str) -> None:
        """The latest good deploy of `release_id` was rolled back by hand: a failed change."""
        with self.state.transaction() as db:
            db.execute(
                "UPDATE deploy_history SET reverted_at = ? WHERE id = (SELECT max(id) FROM "
                "deploy_history WHERE kind = 'deploy' AND outcome = 'success' "
                "AND release_id = ? AND reverted_at IS NULL)",
                (time.time(), release_id),
            )

    def history(self, limit: int | None = None, since: float = 0.0) -> list[HistoryEntry]:
        """Entries newest first."""
        sql = f"SELECT {HISTORY_COLUMNS} FROM deploy_history WHERE started_at >= ? ORDER BY id DESC"  # noqa: S608
        params: tuple[float, ...] | tuple[float, int] = (since,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (since, limit)
        with self.state.reading() as db:
            rows = db.execute(sql, params).fetchall()
        return [HistoryEntry(*row) for row in rows]
