"""The status page on a real gateway (uvicorn subprocess), drawn by headless Chromium.

Chromium is driven over the DevTools protocol (tests/support/chromium.py): the test logs in through the
page's own form, waits for the charts to have bars, and saves a screenshot
(to docs/status-page.png with GRISTOPS_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gristops.config import load_config
from gristops.gateway.app import app_factory
from gristops.gateway.status import route as status
from gristops.observe.logging import configure_process_logging
from gristops.runtime.process import Service
from gristops.state.db import StateDB
from tests.gateway_harness import copy_shop, free_port, write_config
from tests.support.chromium import Browser

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "status-page.png"
STATE: dict[str, Path] = {}  # gateway URL -> its state DB
EXTRA = "observe:\n  status: {sample_seconds: 1}\n"


def status_app() -> FastAPI:
    """The gateway app with the status router (uvicorn --factory runs this in the subprocess)."""
    app = app_factory()
    if not any(getattr(route, "path", None) == "/status/data" for route in app.routes):
        app.include_router(status.router)
    configure_process_logging(load_config(Path(os.environ["GRISTOPS_CONFIG"])), "gateway")
    return app


def record_operations(state_path: Path) -> None:
    """Rows the backup, deploy and agent areas write, as a running system would have them."""
    now = time.time()
    state = StateDB(state_path)
    try:
        with state.transaction() as conn:
            conn.executemany(
                "INSERT INTO backup_runs (action, target, started_at, finished_at, ok, detail)"
                " VALUES (?, 'offsite-s3', ?, ?, 1, ?)",
                [
                    ("run", now - 5400, now - 5380, "3 documents"),
                    ("drill", now - 4000, now - 3963, None),
                ],
            )
            conn.execute(
                "INSERT INTO deploy_history (kind, release_id, version, slot, actor, started_at,"
                " finished_at, outcome) VALUES ('deploy', 'r7', '1.8.2', 'green', 'ci', ?, ?, 'success')",
                (now - 2000, now - 1950),
            )
            conn.executemany(
                "INSERT INTO agent_runs (job, command, started_at, finished_at, outcome, exit_code)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    ("backup", "backup run", now - 5400, now - 5380, "success", 0),
                    ("renew-certs", "edge renew", now - 600, now - 597, "failed", 1),
                ],
            )
    finally:
        state.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("status")
    copy_shop(root)
    config = write_config(root, EXTRA)
    port = free_port()
    here = Path(__file__)
    args = [sys.executable, "-m", "uvicorn", "--app-dir", str(here.parent), "--factory"]
    args.append(f"{here.stem}:status_app")
    service = Service(
        "gateway",
        [*args, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        log_path=root / "gateway.out",
        env={"GRISTOPS_CONFIG": str(config)},
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    STATE[url] = root / "data" / "state.db"
    with service:
        service.wait_ready(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, 30)
        yield url


def token(url: str, email: str, password: str) -> str:
    response = httpx.post(f"{url}/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_status_data_is_for_admins_only(gateway: str) -> None:
    assert httpx.get(f"{gateway}/status/data").status_code == 401
    alice = token(gateway, "alice@shop.test", "alice-pass-1")
    answer = httpx.get(f"{gateway}/status/data", headers={"Authorization": f"Bearer {alice}"})
    assert answer.status_code == 403
    assert "admin" in answer.json()["error"]
    page = httpx.get(f"{gateway}/status")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "cdn" not in page.text.lower() and "https://" not in page.text


def test_status_data_counts_traffic_and_reports_every_component(gateway: str) -> None:
    admin = {"Authorization": f"Bearer {token(gateway, 'admin@shop.test', 'Admin!2024')}"}
    with httpx.Client(base_url=gateway, headers=admin) as client:
        for _ in range(25):
            client.get("/api/docs/Shop/tables/Products/records", params={"limit": 5})
        client.get("/api/docs/Shop/tables/NoSuchTable/records")
        data = client.get("/status/data").json()
    components = {c["name"]: c["status"] for c in data["components"]}
    assert components["store"] == "ok" and components["state DB"] == "ok"
    assert components["backup"] == "no data"
    assert sum(p["requests"] for p in data["requests"]) >= 26
    assert any(p["p95_ms"] for p in data["requests"])


def test_the_page_logs_in_and_draws_charts_after_traffic(gateway: str, browser: Browser) -> None:
    admin = {"Authorization": f"Bearer {token(gateway, 'admin@shop.test', 'Admin!2024')}"}
    with httpx.Client(base_url=gateway, headers=admin) as client:
        for _ in range(40):
            client.get("/api/docs/Shop/tables/Orders/records")
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=1500,
        deviceScaleFactor=1,
        mobile=False,
    )
    record_operations(STATE[gateway])
    browser.call("Page.navigate", url=f"{gateway}/status")
    browser.wait_for("!document.getElementById('login').hidden")
    browser.eval(
        "const f = document.getElementById('login');"
        "f.email.value = 'admin@shop.test'; f.password.value = 'Admin!2024';"
        "f.requestSubmit(); true"
    )
    browser.wait_for("!document.getElementById('status').hidden")
    bars = browser.wait_for("document.querySelectorAll('#chart-requests rect.bar').length")
    assert bars >= 1
    assert browser.wait_for("document.querySelectorAll('#chart-latency path.p95').length")
    cards = browser.eval(
        "[...document.querySelectorAll('.card')].map(c => c.dataset.component + ':' + c.className)"
    )
    assert "store:card ok" in cards
    assert "restore drill:card ok" in cards
    assert "scheduled jobs:card warning" in cards  # renew-certs failed
    jobs = browser.eval("document.getElementById('jobs').innerText")
    assert "renew-certs" in jobs and "failed" in jobs
    assert "1.8.2" in browser.eval("document.getElementById('deploys').innerText")
    assert browser.eval("sessionStorage.getItem('gristops.status.token') !== null")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    if os.environ.get("GRISTOPS_UPDATE_SCREENSHOTS"):
        SCREENSHOT.write_bytes(png)
    # A reload keeps the login for this tab; logging out forgets it.
    browser.eval("document.getElementById('logout').click(); true")
    assert browser.wait_for("!document.getElementById('login').hidden")
    assert browser.eval("sessionStorage.getItem('gristops.status.token') === null")
