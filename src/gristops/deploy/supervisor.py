"""Keep one slot's gateway running: restart it when it dies, drain it on SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

import structlog

from gristops.config import Config
from gristops.deploy.slots import SlotPlace, serve_args
from gristops.runtime import pids
from gristops.runtime.process import Service

log = structlog.get_logger("gristops.deploy")
POLL_SECONDS = 0.1
MAX_BACKOFF = 5.0
STABLE_SECONDS = 30.0  # a gateway that ran this long has its backoff reset


def supervise(config: Config, place: SlotPlace) -> None:
    """Run the slot's gateway until SIGTERM/SIGINT, restarting it whenever it exits."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pids.write_pid(place.supervisor_pid, os.getpid())
    restarts = 0
    backoff = 0.1
    try:
        while not stopping.is_set():
            gateway = Service(
                f"gristops-{place.name}",
                serve_args(config, place),
                log_path=place.root / "serve.log",
                stop_timeout=config.server.graceful_timeout + 5,
            ).start()
            assert gateway.pid is not None
            pids.write_pid(place.serve_pid, gateway.pid)
            started = time.monotonic()
            while not stopping.wait(POLL_SECONDS) and gateway.running():
                pass
            if stopping.is_set():
                gateway.stop()
                break
            restarts += 1
            place.restarts.write_text(f"{restarts}\n")
            log.warning(
                "slot gateway exited, restarting",
                slot=place.name,
                status=gateway.process.returncode if gateway.process else None,
                restarts=restarts,
            )
            backoff = 0.1 if time.monotonic() - started > STABLE_SECONDS else backoff
            stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
    finally:
        place.serve_pid.unlink(missing_ok=True)
        place.supervisor_pid.unlink(missing_ok=True)
