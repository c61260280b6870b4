"""Operations data for the status page: backups and drills, deploys, scheduled jobs,
replication lag, certificates, security scans and gitops passes.

Each area owns its tables; this module reads them only through the area's own
record classes (the backup catalog, the deploy, agent and TLS records, the
replication status file). One area failing to read leaves the rest of the page
working: that part shows "no data", and the failure goes to the log.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import structlog

from gristops.agent.records import AgentRuns
from gristops.backup.catalog import Catalog, RunRecord
from gristops.backup.replication.status import read_status
from gristops.config import Config
from gristops.deploy.records import DeployRecords
from gristops.edge.tls.status import certificate_status
from gristops.gitops.records import last_pass
from gristops.scan.records import last_scan
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.gateway.status")

RECENT = 10


def _safely(area: str, read: Callable[[], object], empty: object) -> object:
    """`read()`, or `empty` when the area cannot be read (logged, never an error on the page)."""
    try:
        return read()
    except Exception:  # one area's failure leaves the rest of the page working
        log.exception("status page could not read an area", area=area)
        return empty


def _run(record: RunRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "finished_at": record.finished_at,
        "ok": record.ok,
        "target": record.target,
        "snapshot_id": record.snapshot_id,
        "bytes": record.bytes,
        "detail": record.detail or None,
        "rto_seconds": record.finished_at - record.started_at,
    }


def backup(state: StateDB) -> dict[str, Any]:
    """The last backup run, when one last succeeded, and the last restore drill."""
    catalog = Catalog(state)
    successes = catalog.last_success("run").values()
    return {
        "last": _run(catalog.last("run")),
        "last_success_at": max(successes, default=None),
        "drill": _run(catalog.last("drill")),
    }


def deploys(state: StateDB) -> list[dict[str, Any]]:
    """The most recent deploys and rollbacks, newest first."""
    keep = ("kind", "version", "slot", "actor", "started_at", "finished_at", "outcome", "reason")
    return [
        {key: getattr(entry, key) for key in keep}
        for entry in DeployRecords(state).history(limit=RECENT)
    ]


def jobs(state: StateDB) -> list[dict[str, Any]]:
    """Each scheduled job's latest run."""
    return [dataclasses.asdict(run) for run in AgentRuns(state).latest()]


def replication(config: Config, now: float) -> list[dict[str, Any]]:
    """Replication lag per replicated database (seconds)."""
    status = read_status(config)
    if status is None:
        return []
    return [
        {"labels": {"db": db.name}, "lag_seconds": status.lag(db, now)} for db in status.databases
    ]


def certificates(config: Config, state: StateDB, now: float) -> list[dict[str, Any]]:
    """Days left for each certificate the edge serves, and its lifetime."""
    return [
        {
            "name": cert.name,
            "days_left": round((cert.info.not_after.timestamp() - now) / 86400, 1),
            "lifetime_days": round(cert.info.lifetime.total_seconds() / 86400, 1),
        }
        for cert in certificate_status(config, state)
        if cert.info is not None
    ]


def ops_data(config: Config, state: StateDB, now: float | None = None) -> dict[str, Any]:
    """Everything the page shows about operations, each part possibly empty."""
    now = time.time() if now is None else now
    return {
        "backup": _safely(
            "backup", lambda: backup(state), {"last": None, "last_success_at": None, "drill": None}
        ),
        "deploys": _safely("deploy", lambda: deploys(state), []),
        "jobs": _safely("agent", lambda: jobs(state), []),
        "replication": _safely("replication", lambda: replication(config, now), []),
        "certificates": _safely("tls", lambda: certificates(config, state, now), []),
        "scan": _safely("scan", lambda: last_scan(state), None),
        "gitops": _safely("gitops", lambda: last_pass(state), None),
    }
