"""ACME Renewal Information (RFC 9773): the CA's suggested window moves renewal earlier.

The ACME server here is a test double: the Pebble installed on this machine
(2.4) offers no renewalInfo, so a small HTTP server stands in for a CA that
does (its directory, and the renewal info of any certificate). Without ARI
(real Pebble) the integration tests cover the fallback to the lifetime fraction.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gristops.config import Config
from gristops.edge.layout import CertPaths
from gristops.edge.tls.certs import install, read_info
from gristops.edge.tls.records import TlsRecords
from gristops.edge.tls.renewal import CertificateManager
from gristops.edge.tls.status import certificate_status
from gristops.state.db import StateDB
from tests.support.tls_chain import make_chain

DAY = dt.timedelta(days=1)


class AriCa:
    """A directory offering renewalInfo, answering one suggested window for every certificate."""

    def __init__(self) -> None:
        self.window = (dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
        self.asked: list[str] = []
        self.url = ""

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/dir":
            return 200, {
                "newNonce": f"{self.url}/nonce",
                "newAccount": f"{self.url}/account",
                "newOrder": f"{self.url}/order",
                "renewalInfo": f"{self.url}/ari",
            }
        if path.startswith("/ari/"):
            self.asked.append(path)
            start, end = self.window
            return 200, {"suggestedWindow": {"start": start.isoformat(), "end": end.isoformat()}}
        return 404, {"type": "urn:ietf:params:acme:error:malformed", "detail": "not here"}


@pytest.fixture
def ca() -> Iterator[AriCa]:
    double = AriCa()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = double.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()


def issued_config(tmp_path: Path, ca: AriCa, **edge: Any) -> tuple[Config, StateDB]:
    """A config whose localhost certificate (64 days, 1 day old) was issued by `ca`."""
    config = Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "grist": {"document_id": "Shop"},
            "edge": {
                "tls_domains": ["shop.example.com"],
                # the double speaks plain HTTP; only its directory URL is recorded
                "acme_directory_url": "https://ca.invalid/dir",
                **edge,
            },
        }
    )
    state = StateDB(config.state_path)
    chain = make_chain(
        ("shop.example.com",), not_before=dt.datetime.now(dt.UTC) - DAY, lifetime=64 * DAY
    )
    paths = CertPaths.of(config, "shop.example.com")
    install(paths, chain.fullchain, chain.key)
    info = read_info(paths.fullchain)
    TlsRecords(state).issued(("shop.example.com",), f"{ca.url}/dir", "acct", info, "issued")
    return config, state


def test_a_window_in_the_future_sets_the_renewal_date(tmp_path: Path, ca: AriCa) -> None:
    config, state = issued_config(tmp_path, ca)
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + 5 * DAY
    ca.window = (soon, soon + dt.timedelta(hours=1))
    [result] = CertificateManager(config, state, lambda: False).renew()
    assert result.result == "not-due"
    assert len(ca.asked) == 1
    [status] = certificate_status(config, state)
    assert status.renew_at is not None
    assert soon <= status.renew_at <= soon + dt.timedelta(hours=1)  # ARI, not day 43


def test_a_window_that_has_opened_triggers_renewal_now(tmp_path: Path, ca: AriCa) -> None:
    config, state = issued_config(tmp_path, ca)
    opened = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    ca.window = (opened, opened + dt.timedelta(hours=1))
    before = CertPaths.of(config, "shop.example.com").fullchain.read_bytes()
    [result] = CertificateManager(config, state, lambda: False).renew()
    # It tried to renew (the double then refuses the order): the old one stays.
    assert result.result == "failed"
    assert "ACME failed" in result.detail
    assert CertPaths.of(config, "shop.example.com").fullchain.read_bytes() == before


def test_ari_off_ignores_the_window(tmp_path: Path, ca: AriCa) -> None:
    config, state = issued_config(tmp_path, ca, acme_ari=False)
    ca.window = (dt.datetime.now(dt.UTC) - DAY, dt.datetime.now(dt.UTC))
    [result] = CertificateManager(config, state, lambda: False).renew()
    assert result.result == "not-due"
    assert ca.asked == []
