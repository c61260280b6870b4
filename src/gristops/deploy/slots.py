"""The blue and green slots: a venv per slot holding a release, run under a supervisor.

A slot lives in data_dir/deploy/<slot>/: `venv/` (the release's gristops),
`web/` (its static bundle), `supervisor.pid`, `serve.pid` and their logs, and
the files of the shared upstream socket (see handover.py): `handover.sock`,
`live` and `accepting`. The supervisor (`gristops deploy slot-run SLOT`, from
the gristops that runs the deploy, not the release's) outlives the deploy
command, holds the shared socket, restarts the gateway if it dies, and on
SIGTERM lets it drain in-flight requests.
"""

from __future__ import annotations

import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog

from gristops.config import Config
from gristops.deploy.records import Slot
from gristops.deploy.release import Release
from gristops.runtime import pids
from gristops.runtime.process import Service, run

log = structlog.get_logger("gristops.deploy")


@dataclass(frozen=True)
class SlotPlace:
    """Where one slot's files live and which port it serves on."""

    name: Slot
    root: Path
    port: int

    @classmethod
    def of(cls, config: Config, slot: Slot) -> SlotPlace:
        port = config.deploy.blue_port if slot == "blue" else config.deploy.green_port
        return cls(slot, config.data_dir.resolve() / "deploy" / slot, port)

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def web(self) -> Path:
        return self.root / "web"

    @property
    def supervisor_pid(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def serve_pid(self) -> Path:
        return self.root / "serve.pid"

    @property
    def restarts(self) -> Path:
        return self.root / "restarts"

    @property
    def handover(self) -> Path:
        return self.root / "handover.sock"

    @property
    def live(self) -> Path:
        return live_flag(self.root)

    @property
    def accepting(self) -> Path:
        return accepting_file(self.root)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def live_flag(root: Path) -> Path:
    """Present while the slot's gateway should accept on the shared upstream socket."""
    return root / "live"


def accepting_file(root: Path) -> Path:
    """The gateway's answer to its live flag: "PID on" or "PID off"."""
    return root / "accepting"


def install(config: Config, place: SlotPlace, release: Release) -> Path | None:
    """A fresh venv in the slot holding `release`; returns the installed web bundle, if any."""
    stop(config, place)
    shutil.rmtree(place.venv, ignore_errors=True)
    shutil.rmtree(place.web, ignore_errors=True)
    place.root.mkdir(parents=True, exist_ok=True)
    python = str(config.deploy.python or sys.executable)
    venv_args = [python, "-m", "venv", "--without-pip", str(place.venv)]
    if config.deploy.system_site_packages:
        venv_args.insert(-1, "--system-site-packages")
    run(venv_args, timeout=120)
    # The running pip installs into the new venv, which needs no pip of its own.
    run(
        [
            sys.executable, "-m", "pip", "--python", str(place.python), "install",
            "--no-input", "--disable-pip-version-check", "--quiet", "--no-compile",
            str(release.wheel),
        ],
        timeout=config.deploy.install_timeout,
    )  # fmt: skip
    if release.web is None:
        return None
    shutil.copytree(release.web, place.web)
    return place.web


def serve_args(config: Config, place: SlotPlace, shared_fd: int) -> list[str]:
    """The gateway command of a slot: the release's own gristops, on the slot's port and,
    while live, on the shared upstream socket it inherits as `shared_fd`."""
    source = config.source_path
    args = [
        str(place.python), "-m", "gristops", "serve", "--port", str(place.port),
        "--shared-fd", str(shared_fd), "--slot-dir", str(place.root),
    ]  # fmt: skip
    return [*args, "--config", str(source.resolve())] if source else args


def start(config: Config, place: SlotPlace) -> None:
    """Start the slot's supervisor (detached; it outlives this command). No-op if running."""
    if running(place):
        return
    if config.source_path is None:
        raise ValueError("a deploy needs a config loaded from a file")
    place.root.mkdir(parents=True, exist_ok=True)
    place.live.unlink(missing_ok=True)  # a started slot gets traffic only once handed over
    supervisor = Service(
        f"gristops-{place.name}-supervisor",
        [
            sys.executable, "-m", "gristops", "deploy", "slot-run", place.name,
            "--config", str(config.source_path.resolve()),
        ],
        log_path=place.root / "supervisor.log",
    )  # fmt: skip
    supervisor.start(ready=lambda: pids.read_pid(place.serve_pid) is not None, timeout=30)


def running(place: SlotPlace) -> bool:
    return pids.read_pid(place.supervisor_pid) is not None


def stop(config: Config, place: SlotPlace) -> None:
    """Stop the slot: its gateway drains in-flight requests (uvicorn's graceful shutdown);
    whatever a killed gateway left in its process group goes with it."""
    pid = pids.read_pid(place.supervisor_pid)
    if pid is None:
        return
    serve = pids.read_pid(place.serve_pid)
    drained = pids.stop(pid, signal.SIGTERM, config.server.graceful_timeout + 20)
    if serve is not None:  # whatever is left when the supervisor was killed first
        pids.kill_group(serve)
    log.info("slot stopped", slot=place.name, drained=drained)
