"""The upstream socket the slots share, and which slot accepts on it.

nginx always sends traffic to 127.0.0.1:deploy.port. The first slot supervisor
to start binds that port; every later one receives the same listening socket
from the running one over an owner-only Unix socket (SCM_RIGHTS). Both slots
then hold one socket with one accept queue, and whichever gateway accepts on
it serves the traffic. A switch makes the new gateway accept, then the old one
stop: a connection waiting in the queue is taken by the new one, never reset
(two SO_REUSEPORT sockets would each have their own queue, lost when closed).
nginx is not reloaded: its config does not name a slot.

Whether a slot's gateway accepts is its live flag file; SIGUSR1 makes the
gateway re-read it, and it acknowledges in its accepting file ("PID on|off").
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import structlog

from gristops.config import Config
from gristops.deploy.records import other
from gristops.deploy.slots import SlotPlace
from gristops.errors import ConfigError, Unavailable
from gristops.runtime import pids

log = structlog.get_logger("gristops.deploy")
LIVE_SIGNAL = signal.SIGUSR1
BACKLOG = 2048
ACK_TIMEOUT = 10.0


def bind(port: int) -> socket.socket:
    """A fresh listening socket on 127.0.0.1:`port` (no SO_REUSEPORT: one owner only)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"the slots cannot listen on 127.0.0.1:{port}: {exc.strerror}",
            "another program uses deploy.port; choose a free port in gristops.yaml",
        ) from None
    sock.listen(BACKLOG)
    return sock


def receive(path: Path) -> socket.socket | None:
    """The shared socket from the supervisor serving `path`; None when none runs there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5.0)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    return socket.socket(fileno=fds[0]) if fds else None


def obtain(config: Config, place: SlotPlace) -> socket.socket:
    """The upstream socket for `place`: the other slot's, else a newly bound one."""
    shared = receive(SlotPlace.of(config, other(place.name)).handover)
    if shared is not None:
        log.info("shared upstream socket received", slot=place.name)
        return shared
    return bind(config.deploy.port)


class HandoverServer:
    """Hands the shared socket to the other slot's supervisor while this one runs."""

    def __init__(self, path: Path, shared: socket.socket) -> None:
        self.path = path
        self.shared = shared
        self.stopping = threading.Event()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                socket.send_fds(conn, [b"s"], [self.shared.fileno()])

    def __enter__(self) -> HandoverServer:
        self.path.unlink(missing_ok=True)
        previous = os.umask(0o177)  # the socket file is the owner's only, from its creation
        try:
            self.server.bind(str(self.path))
        finally:
            os.umask(previous)
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(2)
        self.server.close()
        self.path.unlink(missing_ok=True)


def _acknowledged(place: SlotPlace, live: bool) -> bool:
    pid = pids.read_pid(place.serve_pid)
    try:
        said = place.accepting.read_text().strip()
    except FileNotFoundError:
        return False
    return pid is not None and said == f"{pid} {'on' if live else 'off'}"


def accepting(place: SlotPlace) -> bool:
    """The slot's running gateway says it accepts on the shared socket."""
    return _acknowledged(place, True)


def set_live(place: SlotPlace, live: bool, timeout: float = ACK_TIMEOUT) -> None:
    """Make the slot's gateway accept on the shared socket (or stop); returns once it did."""
    if live:
        place.live.touch()
    else:
        place.live.unlink(missing_ok=True)
    pid = pids.read_pid(place.serve_pid)
    if pid is None:
        if live:
            raise Unavailable(
                f"the {place.name} slot's gateway is not running", f"read {place.root}/serve.log"
            )
        return
    os.kill(pid, LIVE_SIGNAL)
    deadline = time.monotonic() + timeout
    while not _acknowledged(place, live):
        if time.monotonic() > deadline:
            verb = "take" if live else "give up"
            raise Unavailable(
                f"the {place.name} slot's gateway did not {verb} traffic within {timeout:g} s",
                f"read {place.root}/serve.log",
            )
        time.sleep(0.005)
    log.info("slot live" if live else "slot retired", slot=place.name)
