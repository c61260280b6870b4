"""`gristops logs`: search and follow the logs of the gateway, the agent, ops runs and nginx."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, load
from gristops.errors import BadRequest
from gristops.observe.logfiles import log_dir
from gristops.observe.logread import (
    LEVELS,
    SERVICES,
    LogEntry,
    LogFilter,
    log_sets,
    parse_line,
    parse_since,
    search,
)
from gristops.observe.logtail import LogTailer

_SKIP = frozenset({"time", "level", "event", "logger", "service", "timestamp"})
POLL_SECONDS = 0.5


def logs(
    config: ConfigOption = DEFAULT_CONFIG,
    since: Annotated[
        str | None, typer.Option("--since", help="Only newer lines: 30s, 15m, 2h, 1d or ISO time.")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Minimum level: debug, info, warning, error.")
    ] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", help="Only lines containing TEXT (any case).")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Only lines of this request id.")
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="gateway, agent, ops or nginx (repeatable)."),
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=1, help="Show at most the newest N lines.")
    ] = 200,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Search the logs in data_dir/logs (rotated files included), oldest first."""
    cfg = load(config)
    directory = log_dir(cfg)
    _check_services(service or [], {*SERVICES, *log_sets(directory).values()})
    wanted = _filter(since, level, grep, request_id, service)
    # The tailer notes the files' ends before the search so no line falls in between.
    tailer = LogTailer(directory) if follow else None
    for entry in search(directory, wanted, limit=lines):
        _print(entry, as_json)
    if tailer is None:
        return
    try:
        while True:
            for name, line in tailer.poll():
                entry = parse_line(line, name)
                if wanted.matches(entry):
                    _print(entry, as_json)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return


def _check_services(asked: list[str], known: set[str]) -> None:
    unknown = sorted(set(asked) - known)
    if unknown:
        raise BadRequest(
            f"unknown service {', '.join(map(repr, unknown))}",
            hint=f"use one of {', '.join(sorted(known))}",
        )


def _filter(
    since: str | None,
    level: str | None,
    grep: str | None,
    request_id: str | None,
    services: list[str] | None,
) -> LogFilter:
    if level is not None and level.lower() not in LEVELS:
        raise BadRequest(f"unknown level {level!r}", hint=f"use one of {', '.join(LEVELS)}")
    try:
        start = parse_since(since) if since else None
    except ValueError as exc:
        raise BadRequest(str(exc), hint="e.g. --since 1h or --since 2026-01-31T08:00:00Z") from None
    return LogFilter(
        since=start,
        min_level=level.lower() if level else None,
        grep=grep,
        request_id=request_id,
        services=frozenset(services or ()),
    )


def _print(entry: LogEntry, as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(entry.as_json(), default=str).decode())
        return
    when = entry.time.strftime("%Y-%m-%d %H:%M:%S") if entry.time else "-" * 19
    extra = " ".join(f"{k}={_short(v)}" for k, v in entry.fields.items() if k not in _SKIP)
    text = f"{when} {entry.level.upper():<8} {entry.service:<8} {entry.event}"
    typer.echo(f"{text} {extra}".rstrip())


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= 200 else text[:197] + "..."
