"""`gristops agent`: run the scheduled jobs until SIGTERM, or one job now (`--job`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from gristops.agent.jobs import JobRunner, find_job
from gristops.agent.runner import Agent
from gristops.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    emit_json,
    load,
    out,
    stop_on_signals,
)
from gristops.config import Config
from gristops.errors import ConfigError, JobFailed
from gristops.observe.logging import configure_process_logging
from gristops.state.db import StateDB


def agent(
    config: ConfigOption = DEFAULT_CONFIG,
    job: Annotated[
        str | None,
        typer.Option("--job", help="Run this job once now (under its lock) and exit (timers)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve /metrics here (observe.agent.metrics_port).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the scheduled operations of observe.agent.jobs until SIGTERM or Ctrl-C."""
    cfg = load(config)
    configure_process_logging(cfg, "agent")
    stop = stop_on_signals()
    state = StateDB(cfg.state_location)
    try:
        if job is not None:
            _run_one(cfg, Path(config), state, job, stop, as_json)
            return
        runner = Agent(cfg, Path(config), state)
        port = metrics_port or cfg.observe.agent.metrics_port
        server = runner.serve_metrics(cfg.observe.agent.metrics_host, port) if port else None
        try:
            runner.run(stop)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    finally:
        state.close()


def _run_one(
    cfg: Config, config_path: Path, state: StateDB, name: str, stop: threading.Event, as_json: bool
) -> None:
    spec = find_job(cfg, name)
    if spec is None:
        known = ", ".join(j.name for j in cfg.observe.agent.jobs) or "none"
        raise ConfigError(
            f"no job {name!r} in observe.agent.jobs (configured: {known})",
            hint="check the name, or add the job to gristops.yaml",
        )
    runner = JobRunner(cfg, config_path, state)
    try:
        result = runner.run_now(spec, stop)
    finally:
        runner.close()
    if result is None:
        if as_json:
            emit_json({"job": name, "outcome": "skipped"})
        else:
            out.print(f"{name}: skipped, another process is running it")
        return
    if as_json:
        emit_json(
            {
                "job": name,
                "run_id": result.run_id,
                "outcome": result.outcome,
                "exit_code": result.exit_code,
                "seconds": round(result.seconds, 3),
            }
        )
    else:
        out.print(f"{name}: {result.outcome} in {result.seconds:.1f} s (run {result.run_id})")
    if result.outcome != "success":
        raise JobFailed(
            f"job {name} {result.outcome} (exit {result.exit_code})",
            hint=f"see `gristops logs --service ops --grep {result.run_id}`",
        )
