"""`gristops serve`: run the gateway with uvicorn's factory mode."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, load, out
from gristops.errors import BadRequest, GristopsError
from gristops.gateway.slot_server import SlotServer
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
        _check_free(bind_host, bind_port, shown)
    # uvicorn re-raises the stop signal once its graceful shutdown is done; a stop
    # asked for with SIGTERM (systemd, deploys) is a clean exit, not a crash.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # A deploy slot is one process: it alone follows the live flag on the shared socket.
    workers = worker_count(cfg.server) if shared_fd is None else 1
    how_many = "1 worker" if workers == 1 else f"{workers} workers"
    out.print(
        f"gristops gateway on http://{shown}:{bind_port}, {how_many} (docs: /api/docs)",
        markup=False,
    )
    settings: dict[str, Any] = {
        "factory": True,
        "host": bind_host,
        "port": bind_port,
        "log_config": None,
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1",
        "timeout_graceful_shutdown": cfg.server.graceful_timeout,
        "server_header": False,
    }
    if shared_fd is None or slot_dir is None:  # both or neither, checked above
        # Several workers share metrics, a leader lock and more through a run directory.
        run_dir = prepare_run_dir(cfg) if workers > 1 else None
        try:
            uvicorn.run(APP_FACTORY, workers=workers, **settings)
        finally:
            if run_dir is not None:  # every worker has exited: uvicorn waits for them
                shutil.rmtree(run_dir, ignore_errors=True)
        return
    # A deploy slot: one process, which alone decides when it accepts on the shared socket.
    SlotServer(uvicorn.Config(APP_FACTORY, **settings), shared_fd, slot_dir).run()


def _check_free(host: str, port: int, shown: str) -> None:
    """Refuse in one line when the address is taken (uvicorn would log a JSON record and exit 3).

    Bound the way uvicorn binds (SO_REUSEADDR), then released at once for it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise GristopsError(f"cannot listen on {shown}:{port}: {exc.strerror}") from None
            raise GristopsError(
                f"port {port} on {shown} is already in use",
                f"stop what listens there (`ss -ltnp 'sport = :{port}'` shows it), "
                "or pass --port / set server.port",
            ) from None


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
