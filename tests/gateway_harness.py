"""Run the real gateway (`gristops serve`, uvicorn) as a subprocess on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from gristops.deploy.slots import SlotPlace
from tests.conftest import SHOP_GRIST

ROLES = """\
roles:
  admin: {"*": [read, create, update, delete]}
  manager: {"*": [read, create, update]}
  user: {Products: [read], Orders: [read, create], Suppliers: [read]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    url: str
    dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def login(self, email: str, password: str) -> str:
        with self.client() as c:
            r = c.post("/auth/login", json={"email": email, "password": password})
            r.raise_for_status()
            return str(r.json()["access_token"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def write_config(
    root: Path,
    extra: str = "",
    grist: str | None = None,
    roles: str = ROLES,
    name: str = "gristops.yaml",
) -> Path:
    """A config file (gristops.yaml unless named) for the Shop fixture document under `root`."""
    grist = grist or "grist: {document_id: Shop}\n"
    path = root / name
    path.write_text(f"data_dir: data\n{grist}{roles}{extra}")
    return path


def copy_shop(root: Path) -> None:
    docs = root / "data" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHOP_GRIST, docs / "Shop.grist")


@contextmanager
def running_gateway(
    root: Path,
    extra: str = "",
    grist: str | None = None,
    env: dict[str, str] | None = None,
    roles: str = ROLES,
    log_name: str = "gateway.log",
) -> Iterator[Gateway]:
    """Start `gristops serve` for a config under `root`; always stop it.

    Several gateways may share `root` (and so one state DB), each with its own `log_name`
    and a config file named after it: each worker reads the file as it starts, perhaps
    after the next gateway has been started.
    """
    name = "gristops.yaml" if log_name == "gateway.log" else f"{Path(log_name).stem}.yaml"
    config = write_config(root, extra, grist, roles, name)
    port = free_port()
    log_path = root / log_name
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gristops", "serve", "-c", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    gateway = Gateway(f"http://127.0.0.1:{port}", root, process, log_path)
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine can take long to import
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited {process.returncode}:\n{gateway.log()}")
            try:
                if httpx.get(f"{gateway.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{gateway.log()}")
            time.sleep(0.05)
        yield gateway
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_slot_gateway(
    root: Path, config: Path, place: SlotPlace, shared: socket.socket
) -> subprocess.Popen[bytes]:
    """`gristops serve` as a deploy slot's supervisor starts it: the shared socket
    inherited, in a session of its own, its output in root/serve.log."""
    command = [sys.executable, "-m", "gristops", "serve", "-c", str(config)]
    command += ["--port", str(place.port), "--shared-fd", str(shared.fileno())]
    command += ["--slot-dir", str(place.root)]
    with (root / "serve.log").open("wb") as log:
        return subprocess.Popen(
            command,
            pass_fds=(shared.fileno(),),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
