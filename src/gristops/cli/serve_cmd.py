"""`gristops serve`: run the gateway with uvicorn's factory mode."""

from __future__ import annotations

import errno
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

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, load, out
from gristops.config import Config
from gristops.deploy.handover import BACKLOG
from gristops.errors import BadRequest, GristopsError
from gristops.gateway.slot_server import SlotServer, SlotWorkers, worker_ack
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
        typer.Option("--worker-fd", hidden=True, help="A slot worker's inherited port socket."),
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
    shown = f"[{bind_host}]" if ":" in bind_host else bind_host
    if shared_fd is None:  # a deploy slot serves on a socket its supervisor already bound
        _bind(bind_host, bind_port, shown).close()  # a clear error now, not uvicorn's later
    # uvicorn re-raises the stop signal once its graceful shutdown is done; a stop
    # asked for with SIGTERM (systemd, deploys) is a clean exit, not a crash.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    workers = worker_count(cfg.server)
    if worker_fd is not None:  # one worker of a deploy slot: its gateway process speaks
        assert shared_fd is not None and slot_dir is not None
        ack = worker_ack(slot_dir, os.getpid())
        server = SlotServer(
            uvicorn.Config(APP_FACTORY, **_settings(cfg, bind_host, bind_port)),
            shared_fd,
            slot_dir,
            ack,
        )
        server.run(sockets=[socket.socket(fileno=worker_fd)])
        return
    how_many = "1 worker" if workers == 1 else f"{workers} workers"
    out.print(
        f"gristops gateway on http://{shown}:{bind_port}, {how_many} (docs: /api/docs)",
        markup=False,
    )
    settings = _settings(cfg, bind_host, bind_port)
    if shared_fd is None or slot_dir is None:  # both or neither, checked above
        # Several workers share metrics, a leader lock and more through a run directory.
        run_dir = prepare_run_dir(cfg) if workers > 1 else None
        try:
            uvicorn.run(APP_FACTORY, workers=workers, **settings)
        finally:
            if run_dir is not None:  # every worker has exited: uvicorn waits for them
                shutil.rmtree(run_dir, ignore_errors=True)
        return
    if workers == 1:  # a deploy slot in one process, which follows the live flag itself
        SlotServer(uvicorn.Config(APP_FACTORY, **settings), shared_fd, slot_dir).run()
        return
    # A deploy slot with several workers: this process starts them on one socket of the
    # slot's port, relays the live flag to them and waits for all of them to drain.
    run_dir = prepare_run_dir(cfg)
    listener = _bind(bind_host, bind_port, shown)
    listener.listen(BACKLOG)
    args = [
        sys.executable, "-m", "gristops", "serve", "--config", os.environ["GRISTOPS_CONFIG"],
        "--host", bind_host, "--port", str(bind_port), "--shared-fd", str(shared_fd),
        "--slot-dir", str(slot_dir), "--worker-fd", str(listener.fileno()),
    ]  # fmt: skip
    try:
        status = SlotWorkers(args, slot_dir, workers, (shared_fd, listener.fileno())).run()
    finally:
        listener.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    if status:
        raise typer.Exit(status)


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
    }


def _bind(host: str, port: int, shown: str) -> socket.socket:
    """The address bound the way uvicorn binds it (SO_REUSEADDR); one line when it is taken
    (uvicorn would log a JSON record and exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    return sock


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
