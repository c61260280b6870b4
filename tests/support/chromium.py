"""Headless Chromium driven over the DevTools protocol, for tests of pages a person uses.

`browser` is a module-scoped fixture: import it into a test module to use it.
It skips when Chromium is not installed (`make install-system` installs it).
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from gristops.runtime.process import Service
from tests.gateway_harness import free_port


class Browser:
    """Just enough of the DevTools protocol: evaluate JS, wait for a condition, screenshot."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(
            f"page never satisfied {expression!r}: {self.eval('document.body.innerText')}"
        )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make install-system)")
    profile = tmp_path_factory.mktemp("chromium")
    port = free_port()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1",
        "--window-size=1280,1500",
        "about:blank",
    ]
    devtools = f"http://127.0.0.1:{port}/json/list"
    with Service("chromium", [chromium, *flags], log_path=profile / "chromium.out") as service:
        service.wait_ready(lambda: any(t["type"] == "page" for t in httpx.get(devtools).json()), 30)
        page = next(t for t in httpx.get(devtools).json() if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
            yield Browser(ws)
