"""`gristops init` then `gristops serve`: the real CLI, uvicorn and gateway on 127.0.0.1."""

from __future__ import annotations

import importlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gristops.config.model import ServerSection
from gristops.gateway.workers import worker_count
from tests.gateway_harness import copy_shop, free_port, write_config

pytestmark = pytest.mark.integration


def gristops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def require_gateway_app() -> None:
    try:
        module = importlib.import_module("gristops.gateway.app")
    except ImportError as exc:
        pytest.skip(f"requires gateway app (gristops.gateway.app does not import: {exc})")
    if not hasattr(module, "app_factory"):
        pytest.skip("requires gateway app (gristops.gateway.app has no app_factory)")


class Served:
    def __init__(self, root: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.out = root / "serve.out"
        self.err = root / "serve.err"
        config = str(root / "gristops.yaml")
        command = [sys.executable, "-m", "gristops", "serve", "-c", config, "--host", "127.0.0.1"]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen([*command, "--port", str(port)], stdout=out, stderr=err)

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def wait_healthy(self) -> httpx.Response:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited {self.process.returncode}:\n{self.output()}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=1)
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"serve did not answer /health in 30 s:\n{self.output()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One `gristops init` for the module: the tests read its config, document and admin
    password (each serve truncates its own output files)."""
    root = tmp_path_factory.mktemp("site")
    result = gristops("init", "--dir", str(root), "--json")
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout)


@pytest.fixture
def served(site: tuple[Path, dict[str, str]]) -> Iterator[Served]:
    require_gateway_app()
    server = Served(site[0], free_port())
    try:
        yield server
    finally:
        server.stop()


def test_serve_answers_health_then_stops_cleanly_on_sigterm(served: Served) -> None:
    assert served.wait_healthy().status_code == 200
    workers = worker_count(ServerSection())  # unset in the sample: one per CPU
    how_many = "1 worker" if workers == 1 else f"{workers} workers"
    assert served.out.read_text().splitlines()[0] == (
        f"gristops gateway on {served.url}, {how_many} (docs: /api/docs)"
    )
    assert served.stop() == 0
    assert "Traceback" not in served.output()


def test_the_sample_admin_reads_the_sample_document(
    served: Served, site: tuple[Path, dict[str, str]]
) -> None:
    served.wait_healthy()
    report = site[1]
    with httpx.Client(base_url=served.url, timeout=30) as client:
        login = client.post(
            "/auth/login",
            json={"email": report["admin_email"], "password": report["admin_password"]},
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        tables = client.get("/api/docs/Shop/tables", headers=auth)
        assert [t["id"] for t in tables.json()["tables"]] == [
            "Users",
            "Suppliers",
            "Products",
            "Orders",
        ]
        products = client.get("/api/docs/Shop/tables/Products/records", headers=auth).json()
    apple = products["records"][0]
    assert apple == {
        "id": 1,
        "fields": {
            "name": "Apple",
            "category": "Fruit",
            "price": 1.2,
            "stock": 120,
            "tags": ["L", "fresh", "local"],
            "released": 1709251200,
            "updated": 1709281800,
            "supplier": 1,
            "related": ["L", 2],
        },
    }


def test_serve_without_a_config_says_so_in_one_line(tmp_path: Path) -> None:
    result = gristops("serve", "-c", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "no such config file" in result.stderr and "gristops init" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_port_in_use_is_one_human_line_with_a_hint(site: tuple[Path, dict[str, str]]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = gristops("serve", "-c", str(site[0] / "gristops.yaml"), "--port", str(port))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error: port {port} on 127.0.0.1 is already in use"
    assert lines[1].startswith("hint: stop what listens there") and "--port" in lines[1]
    assert len(lines) == 2 and "{" not in result.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_a_gateway_that_cannot_start_says_why_and_stops(tmp_path: Path, workers: int) -> None:
    """Its log directory is a file: each worker fails building its app; none is retried."""
    copy_shop(tmp_path)
    config = write_config(tmp_path, f"server: {{workers: {workers}}}\n")
    (tmp_path / "data" / "logs").write_text("not a directory")
    result = gristops("serve", "-c", str(config), "--port", str(free_port()))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-2:] == [
        "error: the gateway could not start",
        "hint: the lines above say why; `gristops config check` checks the configuration",
    ]
    cause = f"error: cannot write the log file {tmp_path / 'data' / 'logs' / 'gateway.log'}"
    assert 1 <= sum(line.startswith(cause) for line in lines) <= workers  # no restart loop
    assert "Traceback" not in result.stderr


def test_serve_on_a_terminal_logs_readable_lines_and_json_elsewhere(
    site: tuple[Path, dict[str, str]],
) -> None:
    """stderr is a pseudo-terminal, as when a person runs `gristops serve` in a shell."""
    require_gateway_app()
    port = free_port()
    config = str(site[0] / "gristops.yaml")
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "gristops", "serve", "-c", config, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"gateway started" not in seen and time.monotonic() < deadline:
            if select.select([primary], [], [], 1)[0]:
                seen += os.read(primary, 4096)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        os.close(primary)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode(errors="replace"))  # colours off
    [line] = [ln for ln in plain.splitlines() if "gateway started" in ln]
    assert not line.lstrip().startswith("{")
    assert "info" in line and "version=" in line
    # The same start without a terminal (systemd, a pipe): JSON lines.
    served = Served(site[0], free_port())
    try:
        served.wait_healthy()
    finally:
        served.stop()
    started = [ln for ln in served.err.read_text().splitlines() if "gateway started" in ln]
    assert json.loads(started[0])["event"] == "gateway started"
