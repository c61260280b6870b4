"""`gristops replicate` as a service: Litestream supervised, positions checked, new documents followed.

Litestream runs as a child process; if it exits it is started again (a
crash loop ends the service with Litestream's own last lines). Every check
interval the replicas' positions are recorded (see status.py) and
the set of databases is read again: a new or removed document restarts
Litestream with the new list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from gristops.backup.replication.replicate import CHECK_INTERVAL, Plan, check, plan
from gristops.backup.replication.status import ReplicationStatus, mark_stopped
from gristops.config import Config
from gristops.errors import ExternalProgramError
from gristops.runtime import litestream
from gristops.runtime.process import Service

log = structlog.get_logger("gristops.backup")

# Litestream exiting this many times within RESTART_WINDOW seconds ends the service.
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0


def run_replication(
    config: Config,
    stop: threading.Event,
    *,
    interval: float = CHECK_INTERVAL,
    on_check: Callable[[ReplicationStatus], None] | None = None,
) -> None:
    """Run Litestream until `stop` is set: restart it if it dies, follow new documents."""
    current = plan(config)
    exits: list[float] = []
    service: Service | None = None
    try:
        while not stop.is_set():
            if service is None or not service.running():
                if service is not None:
                    exits = _note_exit(service, exits)
                service = _start(current)
            try:
                status = check(config, current, running=True, interval=interval)
            except ExternalProgramError as exc:
                log.warning("replica position unavailable", error=exc.message)
            else:
                if on_check is not None:
                    on_check(status)
            stop.wait(interval)
            latest = plan(config)
            if latest.databases != current.databases:
                log.info("replicated databases changed", databases=sorted(latest.databases))
                service.stop()
                service, current = None, latest
    finally:
        if service is not None:
            service.stop()
        mark_stopped(config)


def _start(current: Plan) -> Service:
    log_path = current.config_path.with_name("litestream.log")
    offset = log_path.stat().st_size if log_path.exists() else 0

    def ready() -> bool:
        with log_path.open("rb") as f:
            f.seek(offset)
            return f.read().count(b"replicating to") >= len(current.databases)

    return litestream.service(current.config_path, current.replica, log_path).start(
        ready=ready, timeout=60
    )


def _note_exit(service: Service, exits: list[float]) -> list[float]:
    now = time.monotonic()
    recent = [t for t in exits if now - t < RESTART_WINDOW] + [now]
    log.warning("litestream exited; restarting it", output=service.output())
    if len(recent) >= MAX_RESTARTS:
        raise ExternalProgramError(
            f"litestream exited {len(recent)} times within {RESTART_WINDOW:.0f} s:\n"
            f"{service.output()}".rstrip(),
            f"its log is {service.log_path}",
        )
    return recent
