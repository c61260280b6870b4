"""What every command shares: the --config option, output and error printing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from gristops.config import Config, load_config
from gristops.errors import INTERNAL, GristopsError

DEFAULT_CONFIG = Path(os.environ.get("GRISTOPS_CONFIG", "gristops.yaml"))

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        help="Path to gristops.yaml (env GRISTOPS_CONFIG).",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def report(exc: Exception) -> int:
    """Print a failure and return its exit code: an expected one as its message (possibly
    several lines) and hint; anything else is a bug, said in one line (the traceback with
    GRISTOPS_DEBUG=1)."""
    if isinstance(exc, GristopsError):
        err.print(f"[bold red]error:[/] {exc.message}", markup=True, highlight=False)
        if exc.hint:
            err.print(f"[dim]hint:[/] {exc.hint}")
        return exc.exit_code
    if os.environ.get("GRISTOPS_DEBUG"):
        traceback.print_exception(exc)
    err.print(f"error: internal error: {type(exc).__name__}: {exc}")
    err.print("hint: run again with GRISTOPS_DEBUG=1 for the traceback and report it")
    return INTERNAL


def load(path: Path) -> Config:
    """Load and validate the config; errors propagate as ConfigError."""
    return load_config(path)


def print_step(step: str) -> None:
    """One step of a long operation (a deploy, a gitops pass), as it starts."""
    out.print(f"• {step}", markup=False)


def emit_json(data: Any) -> None:
    """Write machine-readable output on stdout."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def local_time(at: float | None) -> str:
    """A Unix time as local date and time, or - when unset."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM (systemd's stop) and SIGINT (Ctrl-C) set, for a long-running loop."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
