"""What `/status/data` answers: component health, request history, operations, recent errors.

The health of each operations area is judged with the same thresholds as
the alert rules (observe.rpo_seconds, observe.thresholds), so the page and
the alerts never disagree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gristops.config import Config
from gristops.observe.logfiles import log_dir
from gristops.observe.logread import LogFilter, search

OK, WARNING, FAILED, NO_DATA = "ok", "warning", "failed", "no data"
ERROR_WINDOW = timedelta(hours=24)
RECENT_ERRORS = 20
ERROR_CHARS = 500  # a traceback is for `gristops logs`, the page shows its start


def _component(name: str, status: str, detail: str) -> dict[str, str]:
    return {"name": name, "status": status, "detail": detail}


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def _backup(config: Config, ops: dict[str, Any], now: float) -> dict[str, str]:
    backup = ops["backup"]
    last, success_at = backup["last"], backup["last_success_at"]
    if last is None:
        return _component("backup", NO_DATA, "no backup has run yet")
    if success_at is None:
        return _component("backup", FAILED, "no backup has succeeded yet")
    age = now - success_at
    status = OK if age <= config.observe.rpo_seconds and last["ok"] else WARNING
    failed = "" if last["ok"] else "; the last run failed"
    return _component("backup", status, f"last success {_age(age)} ago{failed}")


def _drill(config: Config, ops: dict[str, Any], now: float) -> dict[str, str]:
    drill = ops["backup"]["drill"]
    if drill is None:
        return _component("restore drill", NO_DATA, "no restore drill has run yet")
    age = now - drill["finished_at"]
    too_old = age > config.observe.thresholds.drill_max_age_days * 86400
    status = FAILED if not drill["ok"] else WARNING if too_old else OK
    outcome = "passed" if drill["ok"] else "FAILED"
    return _component(
        "restore drill", status, f"{outcome} {_age(age)} ago, RTO {_age(drill['rto_seconds'])}"
    )


def _replication(config: Config, ops: dict[str, Any]) -> dict[str, str]:
    lags = [r["lag_seconds"] for r in ops["replication"]]
    if not lags:
        return _component("replication", NO_DATA, "no replica reports yet")
    worst = max(lags)
    limit = config.observe.thresholds.replication_lag_seconds
    return _component("replication", OK if worst <= limit else WARNING, f"lag {_age(worst)}")


def _tls(config: Config, ops: dict[str, Any]) -> dict[str, str]:
    certs = ops["certificates"]
    if not certs:
        return _component("certificates", NO_DATA, "no certificate known yet")
    fraction = config.observe.thresholds.certificate_remaining_fraction
    worst = min(certs, key=lambda c: c["days_left"])
    renew_at = (worst["lifetime_days"] or 90) * fraction
    days = worst["days_left"]
    status = FAILED if days <= 0 else WARNING if days < renew_at else OK
    return _component("certificates", status, f"{worst['name']}: {days:g} days left")


def _deploy(ops: dict[str, Any]) -> dict[str, str]:
    if not ops["deploys"]:
        return _component("deploy", NO_DATA, "no deploy recorded yet")
    last = ops["deploys"][0]
    outcome = last["outcome"] or "in progress"
    status = {"success": OK, "rolled_back": WARNING, "failed": FAILED}.get(outcome, OK)
    return _component("deploy", status, f"{last['kind']} {last['version']}: {outcome}")


def _jobs(ops: dict[str, Any]) -> dict[str, str]:
    jobs = ops["jobs"]
    if not jobs:
        return _component("scheduled jobs", NO_DATA, "the agent has not run a job yet")
    failing = sorted(j["job"] for j in jobs if j["outcome"] != "success")
    if failing:
        return _component("scheduled jobs", WARNING, f"last run failed: {', '.join(failing)}")
    return _component("scheduled jobs", OK, f"{len(jobs)} jobs, all last runs succeeded")


def _scan(ops: dict[str, Any], now: float) -> dict[str, str]:
    scan = ops.get("scan")
    if scan is None:
        return _component("security scan", NO_DATA, "`gristops scan` has not run yet")
    counts = scan["counts"]
    worst_first = ("critical", "high", "medium", "low")
    found = ", ".join(f"{counts[s]} {s}" for s in worst_first if counts.get(s)) or "no findings"
    worst = scan["worst"]
    status = (
        FAILED if worst in ("high", "critical") else WARNING if worst or scan["skipped"] else OK
    )
    skipped = f"; {len(scan['skipped'])} checks not run" if scan["skipped"] else ""
    return _component(
        "security scan", status, f"{found} {_age(now - scan['finished_at'])} ago{skipped}"
    )


def _gitops(ops: dict[str, Any], now: float) -> dict[str, str]:
    last = ops.get("gitops")
    if last is None:
        return _component("gitops", NO_DATA, "no gitops pass yet")
    outcome = last["outcome"]
    commit = (last["commit"] or "-")[:12]
    detail = f"{outcome.replace('_', ' ')} {commit} {_age(now - last['finished_at'])} ago"
    if last["reason"] and outcome not in ("applied", "in_sync", "reverted"):
        detail += f": {last['reason']}"
    if last["head_bad"]:
        detail += "; the branch's head is marked bad"
    good = outcome in ("applied", "in_sync", "reverted")
    status = FAILED if outcome in ("failed", "refused", "skipped") else WARNING
    return _component("gitops", OK if good and not last["head_bad"] else status, detail)


def ops_components(config: Config, ops: dict[str, Any], now: float) -> list[dict[str, str]]:
    return [
        _backup(config, ops, now),
        _drill(config, ops, now),
        _replication(config, ops),
        _tls(config, ops),
        _deploy(ops),
        _jobs(ops),
        _scan(ops, now),
        _gitops(ops, now),
    ]


def recent_errors(config: Config, now: float | None = None) -> list[dict[str, Any]]:
    """The newest warning-or-worse log entries of the last day, newest first."""
    now = time.time() if now is None else now
    since = datetime.fromtimestamp(now, UTC) - ERROR_WINDOW
    entries = search(log_dir(config), LogFilter(since=since, min_level="warning"), RECENT_ERRORS)
    return [
        {
            "time": e.time.isoformat() if e.time else None,
            "level": e.level,
            "service": e.service,
            "event": e.event,
            "request_id": e.request_id,
            "error": str(e.fields.get("error") or e.fields.get("exception") or "")[:ERROR_CHARS],
        }
        for e in reversed(entries)
    ]
