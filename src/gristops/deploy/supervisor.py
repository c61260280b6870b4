"""Keep one slot's gateway running: restart it when it dies, drain it on SIGTERM.

The supervisor holds the shared upstream socket for its slot's lifetime (each
gateway it starts inherits it) and hands it to the other slot's supervisor.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

import structlog

from gristops.config import Config
from gristops.deploy.handover import LIVE_SIGNAL, HandoverServer, obtain
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
    # Ignored here and so in a gateway until it installs its own handler: a live-flag
    # signal sent while a gateway (re)starts must not kill it.
    signal.signal(LIVE_SIGNAL, signal.SIG_IGN)
    shared = obtain(config, place)
    pids.write_pid(place.supervisor_pid, os.getpid())
    try:
        with shared, HandoverServer(place.handover, shared):
            _run(config, place, shared.fileno(), stopping)
    finally:
        for path in (place.serve_pid, place.supervisor_pid, place.live, place.accepting):
            path.unlink(missing_ok=True)


def _run(config: Config, place: SlotPlace, shared_fd: int, stopping: threading.Event) -> None:
    restarts = 0
    backoff = 0.1
    while not stopping.is_set():
        gateway = Service(
            f"gristops-{place.name}",
            serve_args(config, place, shared_fd),
            log_path=place.root / "serve.log",
            # A retired gateway waits for nginx to drop its idle connections, then drains.
            stop_timeout=config.server.graceful_timeout + 15,
            pass_fds=(shared_fd,),
        ).start()
        assert gateway.pid is not None
        pids.write_pid(place.serve_pid, gateway.pid)
        started = time.monotonic()
        while not stopping.wait(POLL_SECONDS) and gateway.running():
            pass
        # After a crash this kills whatever the dead gateway left in its process group.
        gateway.stop()
        if stopping.is_set():
            return
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
