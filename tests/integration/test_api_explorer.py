"""/api/docs as a person uses it, in headless Chromium: with no internet, log in through
Swagger UI, authorize with the token, and run a records query."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_harness import Gateway, copy_shop, running_gateway
from tests.support.chromium import Browser

pytestmark = pytest.mark.integration
SHOT = os.environ.get("GRISTOPS_EXPLORER_SCREENSHOT")  # a PNG path, to look at the page

LOGIN = '{"email": "admin@shop.test", "password": "Admin!2024"}'
# React owns the inputs: set a value through the native setter, then tell React.
SET_VALUE = """
(element, value) => {
  const proto = Object.getPrototypeOf(element);
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(element, value);
  element.dispatchEvent(new Event('input', {bubbles: true}));
  element.dispatchEvent(new Event('change', {bubbles: true}));
}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("explorer")
    copy_shop(root)
    with running_gateway(root) as gw:
        yield gw


def block(path: str, method: str) -> str:
    """A JS expression for the operation block of `method path`."""
    return (
        f"[...document.querySelectorAll('.opblock-{method}')]"
        f".find(b => b.querySelector('.opblock-summary-path')?.dataset.path === {json.dumps(path)})"
    )


def run_operation(browser: Browser, path: str, method: str, fill: str) -> tuple[str, str]:
    """Open an operation, Try it out, fill it (JS over `op` and `set`), Execute; (status, body)."""
    op = block(path, method)
    browser.wait_for(f"!!{op}")
    browser.eval(f"{op}.querySelector('.opblock-summary-control').click(); true")
    browser.wait_for(f"!!{op}.querySelector('.try-out__btn')")
    browser.eval(f"{op}.querySelector('.try-out__btn').click(); true")
    browser.wait_for(f"!!{op}.querySelector('button.execute')")
    browser.eval(f"(() => {{ const op = {op}; const set = {SET_VALUE}; {fill}; return true }})()")
    time.sleep(1)  # Swagger UI takes typed values after a debounce
    browser.eval(f"{op}.querySelector('button.execute').click(); true")
    status = browser.wait_for(
        f"{op}.querySelector('.live-responses-table tbody .response-col_status')?.innerText.trim()"
    )
    body = browser.eval(
        f"{op}.querySelector('.live-responses-table tbody .response-col_description pre')?.innerText"
    )
    return str(status), str(body)


def test_log_in_authorize_and_query_records_offline(gateway: Gateway, browser: Browser) -> None:
    browser.call("Page.navigate", url=f"{gateway.url}/api/docs")
    browser.wait_for("!!document.querySelector('.swagger-ui .information-container')")

    status, body = run_operation(
        browser,
        "/auth/login",
        "post",
        f"set(op.querySelector('textarea.body-param__text'), {json.dumps(LOGIN)})",
    )
    assert status == "200", body
    token = json.loads(body)["access_token"]

    browser.eval("document.querySelector('.scheme-container button.authorize').click(); true")
    browser.wait_for("!!document.querySelector('.modal-ux .auth-container input')")
    browser.eval(
        f"({SET_VALUE})(document.querySelector('.modal-ux .auth-container input'), "
        f"{json.dumps(token)}); true"
    )
    browser.eval("document.querySelector('.modal-ux .auth-btn-wrapper .authorize').click(); true")
    browser.wait_for("!!document.querySelector('.modal-ux .auth-btn-wrapper button.btn-done')")
    browser.eval("document.querySelector('.modal-ux button.btn-done').click(); true")

    fill = (
        "set(op.querySelector('tr[data-param-name=\"docId\"] input'), 'Shop');"
        "set(op.querySelector('tr[data-param-name=\"tableId\"] input'), 'Products');"
        "set(op.querySelector('tr[data-param-name=\"limit\"] input'), '2')"
    )
    status, body = run_operation(browser, "/api/docs/{docId}/tables/{tableId}/records", "get", fill)
    assert status == "200", body
    records = json.loads(body)["records"]
    assert len(records) == 2 and all("name" in r["fields"] for r in records)

    # Everything the page loaded came from the gateway: no CDN.
    loaded = browser.eval("performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(gateway.url) for url in loaded), loaded
    if SHOT:
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        Path(SHOT).write_bytes(base64.b64decode(shot["data"]))
