"""`gristops serve`: run the gateway (uvicorn, in factory mode), in one process or a pool of workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, load, out, report
from gristops.config import Config
from gristops.errors import BadRequest, GristopsError
from gristops.gateway.slot_server import SlotServer, SlotWorkers, worker_ack
from gristops.gateway.worker_pool import WORKER_CANNOT_START, WorkerPool, listen
from gristops.gateway.workers import prepare_run_dir, worker_count

APP_FACTORY = "gristops.gateway.app:app_factory"


def serve(
    config: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default: server.host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to bind (default: server.port)."),
    ] = None,
    shared_fd: Annotated[
        int | None,
        typer.Option("--shared-fd", hidden=True, help="A deploy slot's inherited upstream socket."),
    ] = None,
    slot_dir: Annotated[
        Path | None,
        typer.Option("--slot-dir", hidden=True, help="The deploy slot's directory (live flag)."),
    ] = None,
    worker_fd: Annotated[
        int | None,
        typer.Option(
            "--worker-fd", hidden=True, help="A worker's own socket of the port, from its pool."
        ),
    ] = None,
) -> None:
    """Run the gateway until SIGTERM/SIGINT; in-flight requests get server.graceful_timeout."""
    if (shared_fd is None) != (slot_dir is None):
        raise BadRequest(
            "--shared-fd and --slot-dir go together", "they are given by a deploy slot's supervisor"
        )
    cfg = load(config)
    bind_host = host or cfg.server.host
    bind_port = cfg.server.port if port is None else port
    # Each worker builds its app from the file (validated above) through app_factory().
    os.environ["GRISTOPS_CONFIG"] = str(Path(config).resolve())
    # uvicorn re-raises the stop signal once its graceful shutdown is done; a stop
    # asked for with SIGTERM (systemd, deploys) is a clean exit, not a crash.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if worker_fd is not None:  # one worker of a pool (gateway/worker_pool.py)
        ack = None if slot_dir is None else worker_ack(slot_dir, os.getpid())
        worker = _server(cfg, bind_host, bind_port, shared_fd, slot_dir, ack)
        if not _run(worker, socket.socket(fileno=worker_fd)):
            raise typer.Exit(WORKER_CANNOT_START)  # its pool stops instead of retrying forever
        return
    if shared_fd is None:  # a deploy slot serves on a socket its supervisor already bound
        listen(bind_host, bind_port).close()  # a clear error now, not uvicorn's later
    workers = worker_count(cfg.server)
    shown = f"[{bind_host}]" if ":" in bind_host else bind_host
    how_many = "1 worker" if workers == 1 else f"{workers} workers"
    out.print(
        f"gristops gateway on http://{shown}:{bind_port}, {how_many} (docs: /api/docs)",
        markup=False,
    )
    if workers == 1:  # in this process (a deploy slot's follows the live flag itself)
        if not _run(_server(cfg, bind_host, bind_port, shared_fd, slot_dir)):
            raise CannotStart
        return
    # Several workers share metrics, a leader lock and more through a run directory.
    run_dir = prepare_run_dir(cfg)
    command = [
        sys.executable, "-m", "gristops", "serve", "--config", os.environ["GRISTOPS_CONFIG"],
        "--host", bind_host, "--port", str(bind_port),
    ]  # fmt: skip
    pool: WorkerPool
    if slot_dir is None:
        pool = WorkerPool(command, workers, bind_host, bind_port)
    else:  # the slot's workers also take the shared socket while the slot is live
        assert shared_fd is not None
        command += ["--shared-fd", str(shared_fd), "--slot-dir", str(slot_dir)]
        pool = SlotWorkers(command, workers, (bind_host, bind_port), slot_dir, shared_fd)
    try:
        status = pool.run()
    finally:  # every worker has exited: the pool waits for them
        shutil.rmtree(run_dir, ignore_errors=True)
    if status == WORKER_CANNOT_START:  # the pool's only failure status
        raise CannotStart


def _server(
    cfg: Config,
    host: str,
    port: int,
    shared_fd: int | None,
    slot_dir: Path | None,
    ack: Path | None = None,
) -> uvicorn.Server:
    """uvicorn for the gateway; for a deploy slot, one that also serves the shared socket
    while the slot is live (and acknowledges in `ack`, a worker's own file)."""
    config = uvicorn.Config(APP_FACTORY, **_settings(cfg, host, port))
    if slot_dir is None:
        return uvicorn.Server(config)
    assert shared_fd is not None  # given together, checked by serve
    return SlotServer(config, shared_fd, slot_dir, ack)


def _run(server: uvicorn.Server, sock: socket.socket | None = None) -> bool:
    """Serve until stopped; False when the server could not start (said on stderr)."""
    try:
        server.run(sockets=None if sock is None else [sock])
    except SystemExit as stop:  # uvicorn exits with 1 when the app cannot be built
        if server.started or stop.code == 0:
            raise
    except KeyboardInterrupt:  # Ctrl-C reached every process of the terminal's group
        pass
    except Exception as exc:  # the app factory failed (uvicorn lets it through)
        if server.started:
            raise
        report(exc)
    return bool(server.started)


class CannotStart(GristopsError):
    def __init__(self) -> None:
        super().__init__(
            "the gateway could not start",
            "the lines above say why; `gristops config check` checks the configuration",
        )


def _settings(cfg: Config, host: str, port: int) -> dict[str, Any]:
    return {
        "factory": True,
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        "timeout_graceful_shutdown": cfg.server.graceful_timeout,
        "server_header": False,
        "loop": cfg.server.event_loop,
    }


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
