"""`gristops dora`: the four DORA measures from the deploy history."""

from __future__ import annotations

from typing import Annotated

import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.deploy.dora import compute
from gristops.deploy.records import DeployRecords
from gristops.state.db import StateDB


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def dora(
    config: ConfigOption = DEFAULT_CONFIG,
    days: Annotated[float, typer.Option("--days", min=1, help="Period to measure.")] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Deployment frequency, lead time, change failure rate and recovery time."""
    cfg = load(config)
    result = compute(DeployRecords(StateDB(cfg.state_location)), days=days)
    if as_json:
        emit_json(result.as_dict())
        return
    rate = result.change_failure_rate
    out.print(f"over the last {days:g} days ({result.deploys} deploys reached users)")
    out.print(f"  deployment frequency   {result.deployment_frequency_per_day:.2f} per day")
    out.print(f"  lead time for changes  {_duration(result.lead_time_seconds)}")
    out.print(f"  change failure rate    {'n/a' if rate is None else f'{rate:.0%}'}")
    out.print(f"  recovery time          {_duration(result.recovery_time_seconds)}")
    out.print(f"  failed attempts (stopped before the switch): {result.failed_attempts}")
