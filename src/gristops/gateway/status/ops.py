"""Operations data for the status page: backups and drills, deploys, scheduled jobs,
replication lag and certificates.

Each area owns its tables and its `metric_families`; this module only reads
them, defensively: a table, column or metrics module that does not exist yet
means "no data yet", never an error on the page.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import structlog
from prometheus_client.core import Metric

from gristops.config import Config
from gristops.observe.collector import load_source
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.observe.status")

REPLICATION_METRICS = "gristops.backup.replication.metrics"
TLS_METRICS = "gristops.edge.tls.metrics"
RECENT = 10

_QUERIES = {
    "backup_last": (
        "SELECT finished_at, ok, target, snapshot_id, bytes, detail FROM backup_runs"
        " WHERE action = 'run' ORDER BY finished_at DESC LIMIT 1"
    ),
    "backup_last_success": (
        "SELECT MAX(finished_at) AS finished_at FROM backup_runs WHERE action = 'run' AND ok = 1"
    ),
    "drill_last": (
        "SELECT finished_at, ok, finished_at - started_at AS rto_seconds, target, detail"
        " FROM backup_runs WHERE action = 'drill' ORDER BY finished_at DESC LIMIT 1"
    ),
    "deploys": (
        "SELECT kind, version, slot, actor, started_at, finished_at, outcome, reason"
        " FROM deploy_history ORDER BY started_at DESC LIMIT ?"
    ),
    "jobs": (
        "SELECT r.job, r.command, r.started_at, r.finished_at, r.outcome, r.exit_code,"
        " (SELECT MAX(finished_at) FROM agent_runs s WHERE s.job = r.job"
        "  AND s.outcome = 'success') AS last_success"
        " FROM agent_runs r WHERE r.id IN (SELECT MAX(id) FROM agent_runs GROUP BY job)"
        " ORDER BY r.job"
    ),
}


def _rows(state: StateDB, query: str, *params: object) -> list[dict[str, Any]]:
    """The rows of one query as dicts; none when its table or column does not exist yet."""
    with state.reading() as conn:
        try:
            cursor = conn.execute(_QUERIES[query], params)
        except sqlite3.OperationalError as exc:
            if "no such" not in str(exc):
                raise
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows and any(v is not None for v in rows[0].values()) else None


def _families(config: Config, state: StateDB, module: str) -> list[Metric]:
    """An area's metric families, or none when the area is not installed or fails."""
    try:
        source = load_source(module)
        return source(config, state) if source else []
    except Exception:  # one area's failure leaves the rest of the page working
        log.exception("status page could not read an area's metrics", module=module)
        return []


def _samples(families: list[Metric], name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in families for s in f.samples if s.name == name]


def replication(config: Config, state: StateDB) -> list[dict[str, Any]]:
    """Replication lag per replicated database (seconds)."""
    found = _samples(
        _families(config, state, REPLICATION_METRICS), "gristops_replication_lag_seconds"
    )
    return [{"labels": labels, "lag_seconds": value} for labels, value in found]


def certificates(config: Config, state: StateDB, now: float) -> list[dict[str, Any]]:
    """Days left for each certificate, and its lifetime when known."""
    families = _families(config, state, TLS_METRICS)
    lifetimes = {
        tuple(sorted(labels.items())): value
        for labels, value in _samples(families, "gristops_tls_certificate_lifetime_seconds")
    }
    certs = []
    for labels, expiry in _samples(families, "gristops_tls_certificate_expiry_timestamp_seconds"):
        lifetime = lifetimes.get(tuple(sorted(labels.items())))
        certs.append(
            {
                "name": labels.get("domain") or labels.get("name") or ", ".join(labels.values()),
                "days_left": round((expiry - now) / 86400, 1),
                "lifetime_days": round(lifetime / 86400, 1) if lifetime else None,
            }
        )
    return certs


def ops_data(config: Config, state: StateDB, now: float | None = None) -> dict[str, Any]:
    """Everything the page shows about operations, each part possibly empty."""
    now = time.time() if now is None else now
    last_success = _first(_rows(state, "backup_last_success"))
    return {
        "backup": {
            "last": _first(_rows(state, "backup_last")),
            "last_success_at": last_success["finished_at"] if last_success else None,
            "drill": _first(_rows(state, "drill_last")),
        },
        "deploys": _rows(state, "deploys", RECENT),
        "jobs": _rows(state, "jobs"),
        "replication": replication(config, state),
        "certificates": certificates(config, state, now),
    }
