"""The process that runs a gateway's workers: starts them, replaces a dead one, and
stops them all, each draining, on SIGTERM/SIGINT/SIGHUP.

Each worker gets its own listening socket on the gateway's port (SO_REUSEPORT),
so the kernel spreads new connections evenly over the workers. On one socket
shared by all of them, the worker that wakes first accepts every connection
waiting: a burst of 20 keep-alive clients split 20/0 or 19/1, and one core
idled while the other queued. A dead worker's socket closes with it, so no
connection waits on a worker that is gone.

A worker is `gristops serve … --worker-fd N`; it exits with WORKER_CANNOT_START
when it cannot start (a broken app would fail the same way again), which stops
the pool instead of restarting it forever.
"""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from types import FrameType

import structlog

from gristops.deploy.handover import BACKLOG
from gristops.errors import GristopsError

log = structlog.get_logger("gristops.gateway")
WORKER_CANNOT_START = 3  # between a worker and its pool only
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RESTART_PAUSE = 1.0  # seconds at least between two starts of one worker


def listen(host: str, port: int, *, share_port: bool = False) -> socket.socket:
    """A listening socket on host:port, bound the way uvicorn binds (SO_REUSEADDR);
    with `share_port` one of several (SO_REUSEPORT), one per worker. When the port is
    taken the error is one line with a hint (uvicorn would log a record and exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shown = f"[{host}]" if ":" in host else host
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise GristopsError(f"cannot listen on {shown}:{port}: {exc.strerror}") from None
        raise GristopsError(
            f"port {port} on {shown} is already in use",
            f"stop what listens there (`ss -ltnp 'sport = :{port}'` shows it), "
            "or pass --port / set server.port",
        ) from None
    sock.listen(BACKLOG)
    return sock


class WorkerPool:
    """`count` workers of `command` (+ `--worker-fd N`), each on its own socket of
    host:port; `keep_fds` are passed to every worker as well."""

    poll_seconds = 0.1

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        host: str,
        port: int,
        keep_fds: tuple[int, ...] = (),
    ) -> None:
        self.command = list(command)
        self.count = count
        self.host = host
        self.port = port
        self.keep_fds = keep_fds
        self.workers: list[subprocess.Popen[bytes]] = []
        self.started_at: list[float] = []
        self.stopping = threading.Event()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def _start_worker(self) -> subprocess.Popen[bytes]:
        # Checked free by `serve` beforehand: sharing the port with a stranger is refused
        # by the kernel (only sockets of the same user may share it).
        with listen(self.host, self.port, share_port=True) as sock:
            self.port = sock.getsockname()[1]  # port 0: every worker on the one it got
            fds = (sock.fileno(), *self.keep_fds)
            argv = [*self.command, "--worker-fd", str(sock.fileno())]
            # A shell-free argv of this gristops' own serve command. The socket is the
            # worker's alone once it runs: a copy kept here would queue connections
            # nobody accepts.
            return subprocess.Popen(argv, pass_fds=fds)  # noqa: S603

    def started(self) -> None:
        """Called once every worker has been started (for subclasses)."""

    def tick(self) -> None:
        """Called every poll_seconds while the pool runs or drains (for subclasses)."""

    def retired(self, worker: subprocess.Popen[bytes]) -> None:
        """Called once for each worker that has exited (for subclasses)."""

    def run(self) -> int:
        """Run the workers until a stop signal; the exit status (0 after a clean stop)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        status = 0
        try:
            for _ in range(self.count):  # one at a time: each is stopped if the next fails
                self.workers.append(self._start_worker())
                self.started_at.append(time.monotonic())
            self.started()
            while not self.stopping.wait(self.poll_seconds):
                status = self._replace_exited()
                if status:
                    break
                self.tick()
        finally:
            for worker in self.workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            while any(w.poll() is None for w in self.workers):  # each drains
                self.tick()
                time.sleep(self.poll_seconds)
            self.tick()
            for worker in self.workers:
                self.retired(worker)
        return status

    def _replace_exited(self) -> int:
        """Start a new worker for each that exited; WORKER_CANNOT_START when one could not."""
        for index, worker in enumerate(self.workers):
            code = worker.poll()
            if code is None:
                continue
            if code == WORKER_CANNOT_START:
                log.error("a gateway worker could not start; stopping", pid=worker.pid)
                return WORKER_CANNOT_START
            if time.monotonic() - self.started_at[index] < RESTART_PAUSE:
                continue  # one that dies as it starts is not restarted in a tight loop
            log.warning("gateway worker exited; starting another", pid=worker.pid, status=code)
            self.retired(worker)
            self.workers[index] = self._start_worker()
            self.started_at[index] = time.monotonic()
        return 0
