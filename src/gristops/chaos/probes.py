"""Chaos Toolkit probes: is the gateway in its steady state, and what did traffic see.

The target comes from the experiment's configuration (`gateway_url`, `email`,
`doc_id`, `table`, `column`, `grist_url`) and the `gateway` secrets
(`password`); see docs/chaos.md. `traffic` is the probe that checks an
experiment's pass criteria: it raises ActivityFailed with every criterion
missed, and writes its figures to `scratch_dir`/figures.json either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets as tokens
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from gristops.chaos.traffic import CLIENT_TIMEOUT, Plan, Target, drive, login, stored_markers
from gristops.chaos.verdict import failures, figures, split_timing

FIGURES_FILE = "figures.json"


def target(configuration: dict[str, Any], secrets: dict[str, Any] | None) -> Target:
    """The Target the experiment's configuration names (ActivityFailed when a key is missing)."""
    try:
        return Target(
            gateway_url=str(configuration["gateway_url"]).rstrip("/"),
            email=str(configuration["email"]),
            password=str((secrets or {})["password"]),
            doc_id=str(configuration["doc_id"]),
            table=str(configuration["table"]),
            column=str(configuration["column"]),
            grist_url=configuration.get("grist_url") or None,
            grist_api_key=(secrets or {}).get("grist_api_key") or None,
            verify=bool(configuration.get("tls_verify", True)),
        )
    except KeyError as exc:
        raise ActivityFailed(
            f"the experiment needs {exc.args[0]!r}: pass --var {exc.args[0]}=... "
            "(or its GRISTOPS_CHAOS_ variable)"
        ) from None


def gateway_ready(configuration: dict[str, Any]) -> bool:
    """True when the gateway's /ready answers 200 (its store and state DB answer)."""
    url = str(configuration["gateway_url"]).rstrip("/")
    verify = bool(configuration.get("tls_verify", True))
    try:
        return (
            httpx.get(f"{url}/ready", timeout=10, trust_env=False, verify=verify).status_code == 200
        )
    except httpx.HTTPError:
        return False


async def _round_trip(place: Target) -> bool:
    marker = f"steady-{tokens.token_hex(4)}"
    async with httpx.AsyncClient(
        base_url=place.gateway_url, timeout=CLIENT_TIMEOUT, trust_env=False, verify=place.verify
    ) as client:
        headers = {"Authorization": f"Bearer {await login(client, place)}"}
        body = {"records": [{"fields": {place.column: marker}}]}
        written = await client.post(place.records_path(), json=body, headers=headers)
        if written.status_code != 200:
            return False
        row = written.json()["records"][0]["id"]
        read = await client.get(f"{place.records_path()}/{row}", headers=headers)
        return read.status_code == 200 and read.json()["fields"].get(place.column) == marker


def write_reads_back(configuration: dict[str, Any], secrets: dict[str, Any]) -> bool:
    """True when a write through the gateway succeeds and reads back unchanged."""
    try:
        return asyncio.run(_round_trip(target(configuration, secrets)))
    except (httpx.HTTPError, RuntimeError, KeyError, ValueError):
        return False


def sqlite_intact(paths: list[str] | str) -> bool:
    """True when every SQLite file (a list, or one string separated by `:`) answers
    `PRAGMA integrity_check` with ok (opened read-only)."""
    for path in paths.split(os.pathsep) if isinstance(paths, str) else paths:
        with sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True) as db:
            if db.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                return False
    return True


def traffic(
    configuration: dict[str, Any],
    secrets: dict[str, Any],
    clients: int,
    seconds: float,
    expect: dict[str, Any],
    write_every: int = 4,
    settle: float = 0.0,
    watch_grist: bool = False,
    fault_at: float | None = None,
    fault_seconds: float | None = None,
    check_timing: bool = True,
    retries: int = 0,
) -> dict[str, Any]:
    """Drive traffic while the fault runs; its figures, or ActivityFailed with what missed.

    `fault_at`/`fault_seconds` place the fault window when Grist is not watched
    (with `watch_grist`, the window is when Grist did not answer). Without
    `check_timing`, duration criteria are reported in the figures but do not fail
    (a shared, busy test machine says little about latency). `retries`: see Plan.
    """
    place = target(configuration, secrets)
    if not watch_grist:
        place = Target(**{**place.__dict__, "grist_url": None})
    plan = Plan(clients, seconds, write_every, settle, retries=retries)
    recorded = asyncio.run(drive(place, plan))
    stored = asyncio.run(stored_markers(place)) if expect.get("writes_exactly_once") else None
    planned = None if fault_at is None else (fault_at, fault_at + (fault_seconds or 0.0))
    result = figures(recorded, planned, stored)
    behaviour, timing = split_timing(expect)
    missed = failures(result, behaviour)
    slow = failures(result, timing)
    if check_timing:
        missed += slow
    else:
        result["timing_not_checked"] = slow
    result["failures"] = missed
    scratch = configuration.get("scratch_dir")
    if scratch:
        Path(scratch, FIGURES_FILE).write_text(json.dumps(result, indent=2))
    if missed:
        raise ActivityFailed("criteria not met: " + "; ".join(missed))
    return result
