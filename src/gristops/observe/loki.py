"""Ship every log file under data_dir/logs to Loki's push API (`POST /loki/api/v1/push`).

Labels stay few and bounded (host, service, level): ids such as the request
id live in the line itself, which is the original JSON. Lines are batched;
a push that fails with a network error, 429 or 5xx is retried with
exponential backoff (the files on disk are the buffer, so nothing is lost
while Loki is down); a 4xx other than 429 means Loki will never take that
batch (too old, too big), so it is dropped with a warning instead of
blocking every later line. Positions are saved after each delivered poll, so
a restart resumes where it stopped (at worst re-sending lines Loki already
has; Loki drops exact duplicates).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import defaultdict
from typing import Any

import httpx
import structlog

from gristops.config import Config
from gristops.config.observe import LokiSection
from gristops.observe.logfiles import log_dir
from gristops.observe.logread import LogEntry, parse_line
from gristops.observe.logtail import LogTailer

log = structlog.get_logger("gristops.observe.loki")
PUSH_PATH = "/loki/api/v1/push"
POSITIONS_FILE = ".loki-positions.json"


def push_payload(entries: list[LogEntry], host: str, now_ns: int) -> dict[str, Any]:
    """Loki's JSON push body: one stream per (host, service, level), values oldest first."""
    streams: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for entry in entries:
        ts = int(entry.time.timestamp() * 1e9) if entry.time else now_ns
        streams[(entry.service, entry.level)].append([str(ts), entry.raw])
    return {
        "streams": [
            {
                "stream": {"host": host, "service": service, "level": level},
                "values": sorted(values, key=lambda v: int(v[0])),
            }
            for (service, level), values in streams.items()
        ]
    }


class LokiPusher:
    """Deliver batches to one Loki, retrying what can succeed later."""

    def __init__(
        self,
        settings: LokiSection,
        host: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if settings.url is None:
            raise ValueError("observe.loki.url is not set")
        self.settings = settings
        self.url = settings.url + PUSH_PATH
        self.host = host or socket.gethostname()
        headers = {"X-Scope-OrgID": settings.tenant} if settings.tenant else {}
        self.client = client or httpx.Client(timeout=settings.timeout, headers=headers)

    def push(self, entries: list[LogEntry], stop: threading.Event) -> bool:
        """True once the batch is delivered (or refused for good); False if stopped first."""
        body = push_payload(entries, self.host, time.time_ns())
        delay = min(1.0, self.settings.max_backoff)
        while not stop.is_set():
            try:
                response = self.client.post(self.url, json=body)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return True
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    log.warning(
                        "loki refused a batch; dropped",
                        status=response.status_code,
                        lines=len(entries),
                        answer=response.text[:200],
                    )
                    return True
                reason = f"HTTP {response.status_code}"
            log.warning("loki push failed; retrying", reason=reason, wait_seconds=round(delay, 1))
            stop.wait(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, self.settings.max_backoff)
        return False

    def close(self) -> None:
        self.client.close()


class LokiShipper:
    """Tail data_dir/logs and push new lines in batches, resuming from saved positions."""

    def __init__(self, config: Config, pusher: LokiPusher | None = None) -> None:
        self.settings = config.observe.loki
        self.directory = log_dir(config)
        self.positions_file = self.directory / POSITIONS_FILE
        self.pusher = pusher or LokiPusher(self.settings)
        self.tailer = LogTailer(
            self.directory, LogTailer.load(self.positions_file), from_start=True
        )

    def ship_once(self, stop: threading.Event) -> int:
        """Push every line written since the last call; the number of lines delivered."""
        lines = self.tailer.poll()
        entries = [parse_line(line, service) for service, line in lines]
        size = self.settings.batch_lines
        for start in range(0, len(entries), size):
            if not self.pusher.push(entries[start : start + size], stop):
                return start  # stopped: positions stay at the last save, lines go again
        if entries or not self.positions_file.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            self.tailer.save(self.positions_file)
        return len(entries)

    def run(self, stop: threading.Event) -> None:
        """Ship until `stop` is set (the agent runs this in a thread)."""
        log.info("loki shipping started", url=self.settings.url)
        while not stop.is_set():
            try:
                self.ship_once(stop)
            except OSError as exc:
                log.warning("loki shipping could not read the logs", error=str(exc))
            stop.wait(self.settings.flush_seconds)
        self.pusher.close()
        log.info("loki shipping stopped")
