"""The gateway of a deploy slot: uvicorn on the slot's own port, and on the shared
upstream socket while the slot is live (deploy/handover.py says how it is shared).

Going live adds a listener on the inherited socket; retiring removes it, and
from then on every response carries `Connection: close`, so nginx drops each of
its pooled connections to this slot right after an answer, never while a
request may be on the way. Idle pooled connections are left for nginx to
close (it does within UPSTREAM_IDLE_SECONDS): closing them here could cross a
request nginx just sent, which nginx may not replay (a POST). A stopping slot
first retires and waits that long for its connections to go, then drains.

A slot runs as many workers as `serve` does. With more than one, the slot's
gateway process (`SlotWorkers`, a WorkerPool) starts them, each a SlotServer
on its own socket of the slot's port and on the shared socket; it relays the
live signal to every worker and acknowledges in the slot's accepting file once
all of them have (each acknowledges in its own file, `accepting.<pid>`). A
worker that dies is replaced, and its replacement reads the live flag as it
starts. On SIGTERM it stops them all and exits only when the last one has
drained.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gristops.deploy.handover import LIVE_SIGNAL
from gristops.deploy.slots import accepting_file, live_flag
from gristops.edge.render import UPSTREAM_IDLE_SECONDS
from gristops.files import write_atomic
from gristops.gateway.worker_pool import WorkerPool

RETIRE_WAIT = UPSTREAM_IDLE_SECONDS + 1.0
ACK_POLL_SECONDS = 0.01


def worker_ack(slot_dir: Path, pid: int) -> Path:
    """Where one worker of a slot says whether it accepts on the shared socket."""
    return slot_dir / f"accepting.{pid}"


class CloseWhenRetired:
    """ASGI wrapper: once the slot is retired, each response asks to close its connection."""

    def __init__(self, app: ASGIApp, server: SlotServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.server.live:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing)


class SlotServer(uvicorn.Server):
    """uvicorn with a second listener, on the shared socket, that follows the live flag."""

    def __init__(
        self, config: uvicorn.Config, shared_fd: int, slot_dir: Path, ack: Path | None = None
    ) -> None:
        super().__init__(config)
        self.shared_fd = shared_fd
        self.live_flag = live_flag(slot_dir)
        self.accepting = ack or accepting_file(slot_dir)
        self.shared: asyncio.Server | None = None
        self.following = asyncio.Lock()

    @property
    def live(self) -> bool:
        return self.shared is not None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.config.loaded_app = CloseWhenRetired(self.config.loaded_app, self)
        await super().startup(sockets)
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(LIVE_SIGNAL, lambda: loop.create_task(self.follow_flag()))
        await self.follow_flag()

    def _protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol

    async def follow_flag(self) -> None:
        """Accept on the shared socket exactly while the live flag exists; acknowledge."""
        async with self.following:
            wanted = self.live_flag.exists() and not self.should_exit
            if wanted and self.shared is None:
                # A duplicate descriptor: asyncio closes it when this listener closes.
                sock = socket.socket(fileno=os.dup(self.shared_fd))
                self.shared = await asyncio.get_running_loop().create_server(
                    self._protocol, sock=sock, backlog=self.config.backlog
                )
            elif not wanted and self.shared is not None:
                self.shared.close()
                self.shared = None
            write_atomic(self.accepting, f"{os.getpid()} {'on' if self.live else 'off'}\n")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.follow_flag()  # should_exit is set: retire
        deadline = time.monotonic() + RETIRE_WAIT
        while self.server_state.connections and time.monotonic() < deadline:
            if self.force_exit:
                break
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)


class SlotWorkers(WorkerPool):
    """The gateway process of a slot with several workers (see the module doc)."""

    poll_seconds = ACK_POLL_SECONDS

    def __init__(
        self,
        command: list[str],
        count: int,
        address: tuple[str, int],
        slot_dir: Path,
        shared_fd: int,
    ) -> None:
        super().__init__(command, count, *address, keep_fds=(shared_fd,))
        self.slot_dir = slot_dir
        self._said = ""

    def _relay(self, signum: int, frame: FrameType | None) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.kill(worker.pid, signum)

    def tick(self) -> None:
        """Say "on" or "off" once every running worker says it; "off" when none runs."""
        running = [w for w in self.workers if w.poll() is None]
        states = set()
        for worker in running:
            try:
                pid, state = worker_ack(self.slot_dir, worker.pid).read_text().split()
            except (FileNotFoundError, ValueError):
                return  # this worker has not said yet
            states.add(state if pid == str(worker.pid) else "")
        said = "off" if not running else states.pop() if len(states) == 1 else ""
        if said and said != self._said:
            write_atomic(accepting_file(self.slot_dir), f"{os.getpid()} {said}\n")
            self._said = said

    def retired(self, worker: subprocess.Popen[bytes]) -> None:
        worker_ack(self.slot_dir, worker.pid).unlink(missing_ok=True)

    def run(self) -> int:
        # Workers start with the live signal ignored (a Python handler would be reset to
        # the default, which kills): until a worker installs its own, it reads the flag
        # when it starts, so a signal sent meanwhile is not missed.
        signal.signal(LIVE_SIGNAL, signal.SIG_IGN)
        return super().run()

    def started(self) -> None:
        signal.signal(LIVE_SIGNAL, self._relay)
