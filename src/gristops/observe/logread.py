"""Reading log lines back: gristops JSON lines, nginx's JSON access log and its
text error log, plain text.

Every line becomes a `LogEntry` with the fields `gristops logs` filters on.
Lines that are not what we expect (a truncated write, a plain-text line, an
nginx format someone changed) are kept as plain text rather than dropped.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gristops.durations import parse_duration
from gristops.observe.logfiles import SUFFIX, rotated_files, service_of

LEVELS = ("debug", "info", "warning", "error", "critical")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES = {
    "warn": "warning",
    "fatal": "critical",
    "exception": "error",
    "notice": "info",
    # nginx's error-log levels above error
    "crit": "critical",
    "alert": "critical",
    "emerg": "critical",
}
# The processes that write under data_dir/logs; `gristops logs --service` takes these.
SERVICES = ("gateway", "agent", "ops", "nginx")
_TIME_KEYS = ("time", "timestamp", "time_iso8601", "@timestamp", "ts")
_REQUEST_ID_KEYS = ("request_id", "x_request_id", "req_id", "http_x_request_id")
# nginx's error log: "2026/01/31 10:00:00 [error] 1234#0: *5 message" (local time).
_NGINX_ERROR = re.compile(
    r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$"
)


@dataclass(frozen=True)
class LogEntry:
    service: str
    time: datetime | None
    level: str
    event: str
    request_id: str | None
    raw: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    def sort_key(self) -> float:
        return self.time.timestamp() if self.time else 0.0

    def as_json(self) -> dict[str, Any]:
        """The entry for `--json` output: its own fields plus the service it came from."""
        data = dict(self.fields)
        data.setdefault("event", self.event)
        data.setdefault("level", self.level)
        if self.time is not None:
            data.setdefault("time", self.time.isoformat())
        data["service"] = self.service
        return data


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (with Z or an offset) or epoch seconds; None when unreadable."""
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value:
            if re.fullmatch(r"\d+(\.\d+)?", value):
                return datetime.fromtimestamp(float(value), UTC)
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A duration ago (`30s`, `15m`, `1h30m`, `1d`: durations.py), or an ISO timestamp."""
    now = now or datetime.now(UTC)
    seconds = parse_duration(text)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    parsed = parse_time(text.strip())
    if parsed is None:
        raise ValueError(f"{text!r} is neither a duration (30s, 15m, 2h, 1d) nor an ISO time")
    return parsed


def normalize_level(value: object) -> str:
    name = str(value or "info").lower()
    name = _ALIASES.get(name, name)
    return name if name in _RANK else "info"


def level_rank(level: str) -> int:
    return _RANK.get(normalize_level(level), 1)


def _first(data: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = data.get(key)
        if value not in (None, "", "-"):
            return value
    return None


def _nginx_entry(data: dict[str, Any], raw: str) -> LogEntry:
    """nginx's JSON access log: the level follows the status; the event is the request line."""
    status = str(_first(data, ("status", "http_status")) or "")
    level = "error" if status.startswith("5") else "warning" if status.startswith("4") else "info"
    request = _first(data, ("request",))
    if request is None:
        method = _first(data, ("request_method", "method")) or ""
        uri = _first(data, ("request_uri", "uri", "path")) or ""
        request = f"{method} {uri}".strip()
    event = f"{request} {status}".strip() or "request"
    return LogEntry(
        "nginx",
        parse_time(_first(data, (*_TIME_KEYS, "msec"))),
        level,
        event,
        _str_or_none(_first(data, _REQUEST_ID_KEYS)),
        raw,
        data,
    )


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _text_entry(raw: str, service: str) -> LogEntry:
    """A line that is not JSON: nginx's error log has a time and a level, others are kept."""
    found = _NGINX_ERROR.match(raw) if service == "nginx" else None
    if found is None:
        return LogEntry(service, None, "info", raw, None, raw)
    when = datetime.strptime(found.group(1), "%Y/%m/%d %H:%M:%S").astimezone()
    return LogEntry(service, when, normalize_level(found.group(2)), found.group(3), None, raw)


def parse_line(line: str, service: str) -> LogEntry:
    """One line of a log file of `service`."""
    raw = line.rstrip("\n")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return _text_entry(raw, service)
    if service == "nginx":
        return _nginx_entry(data, raw)
    return LogEntry(
        service,
        parse_time(_first(data, _TIME_KEYS)),
        normalize_level(data.get("level")),
        str(data.get("event", data.get("message", raw))),
        _str_or_none(_first(data, _REQUEST_ID_KEYS)),
        raw,
        data,
    )


@dataclass(frozen=True)
class LogFilter:
    """What `gristops logs` asks for; every condition must hold."""

    since: datetime | None = None
    min_level: str | None = None
    grep: str | None = None
    request_id: str | None = None
    services: frozenset[str] = frozenset()

    def wants_service(self, service: str) -> bool:
        return not self.services or service in self.services

    def matches(self, entry: LogEntry) -> bool:
        if not self.wants_service(entry.service):
            return False
        if self.since is not None and (entry.time is None or entry.time < self.since):
            return False
        if self.min_level and level_rank(entry.level) < level_rank(self.min_level):
            return False
        if self.request_id and entry.request_id != self.request_id:
            return False
        return not (self.grep and self.grep.casefold() not in entry.raw.casefold())


def log_sets(directory: Path) -> dict[Path, str]:
    """Each current log file (name.log) under `directory` and its service."""
    if not directory.is_dir():
        return {}
    found = {p for p in directory.iterdir() if p.name.endswith(SUFFIX)}
    # A set whose current file was just rotated away still has its .1 file.
    found |= {
        p.with_name(p.name.rsplit(".", 1)[0])
        for p in directory.glob(f"*{SUFFIX}.*")
        if p.name.rsplit(".", 1)[1].isdigit()
    }
    return {path: service_of(path) for path in sorted(found)}


def _entries(path: Path, service: str) -> Iterator[LogEntry]:
    for file in rotated_files(path):
        try:
            with file.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.strip():
                        yield parse_line(line, service)
        except FileNotFoundError:
            continue  # rotated away while we read: its lines are in the next name


def search(directory: Path, wanted: LogFilter, limit: int | None = None) -> list[LogEntry]:
    """Matching entries from every log set (rotated files included), oldest first.

    Each file is in time order, so the sets are merged rather than sorted; with
    `limit`, only the newest `limit` entries are kept (memory stays bounded).
    """
    streams = [
        (entry for entry in _entries(path, service) if wanted.matches(entry))
        for path, service in log_sets(directory).items()
        if wanted.wants_service(service)
    ]
    merged = heapq.merge(*streams, key=LogEntry.sort_key)
    return list(deque(merged, maxlen=limit)) if limit else list(merged)
