"""Shipping logs to Loki's push API, against a local HTTP double.

Loki cannot run on this machine (no binary on PyPI, no Debian package), so
the receiver is a small HTTP server on 127.0.0.1 that answers like Loki's
`POST /loki/api/v1/push` (204, or the failures a real Loki gives: 500 while
it is unwell, 400 for a batch it will never take) and records what it got.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gristops.config import Config
from gristops.observe.loki import LokiShipper

pytestmark = pytest.mark.integration


class LokiDouble(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[int] = []  # status codes to give before 204s
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.tenants: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: LokiDouble

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts += 1
        self.server.tenants.append(self.headers.get("X-Scope-OrgID"))
        status = self.server.answers.pop(0) if self.server.answers else 204
        if self.path != "/loki/api/v1/push":
            status = 404
        if status == 204:
            self.server.received.append(json.loads(body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def loki() -> Iterator[LokiDouble]:
    server = LokiDouble()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def make_config(tmp_path: Path, url: str, max_backoff: float = 60) -> Config:
    return Config.model_validate(
        {
            "data_dir": str(tmp_path),
            "grist": {"document_id": "Shop"},
            "observe": {
                "loki": {"url": url, "tenant": "shop", "batch_lines": 3, "max_backoff": max_backoff}
            },
        }
    )


def lines_of(received: list[dict[str, Any]]) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [
        (stream["stream"], json.loads(value[1]))
        for push in received
        for stream in push["streams"]
        for value in stream["values"]
    ]


def test_lines_arrive_in_batches_with_bounded_labels_and_ids_in_the_line(
    tmp_path: Path, loki: LokiDouble
) -> None:
    config = make_config(tmp_path, loki.url)
    logs = tmp_path / "logs"
    logs.mkdir()
    events = [
        {
            "time": f"2026-01-01T10:00:0{i}Z",
            "level": "error" if i == 2 else "info",
            "event": f"e{i}",
            "request_id": f"req{i}",
        }
        for i in range(5)
    ]
    (logs / "gateway.log").write_text("".join(json.dumps(e) + "\n" for e in events))
    (logs / "nginx-access.log").write_text(
        json.dumps({"status": "200", "request": "GET / HTTP/1.1", "request_id": "n1"}) + "\n"
    )
    stop = threading.Event()
    assert LokiShipper(config).ship_once(stop) == 6
    assert len(loki.received) == 2  # batches of 3
    assert set(loki.tenants) == {"shop"}
    shipped = lines_of(loki.received)
    assert sorted(line.get("event", "nginx") for _, line in shipped) == [
        "e0",
        "e1",
        "e2",
        "e3",
        "e4",
        "nginx",
    ]
    for labels, line in shipped:
        assert set(labels) == {"host", "service", "level"}  # never a request id
        assert line["request_id"]
    assert {
        (labels["service"], labels["level"])
        for labels, line in shipped
        if line.get("event") == "e2"
    } == {("gateway", "error")}


def test_a_failing_loki_gets_the_batch_again_and_nothing_is_sent_twice(
    tmp_path: Path, loki: LokiDouble
) -> None:
    config = make_config(tmp_path, loki.url, max_backoff=0.05)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "agent.log").write_text(json.dumps({"event": "first", "level": "info"}) + "\n")
    loki.answers = [500, 503]
    stop = threading.Event()
    shipper = LokiShipper(config)
    assert shipper.ship_once(stop) == 1
    assert loki.attempts == 3  # two failures, then delivered
    with (logs / "agent.log").open("a") as out:
        out.write(json.dumps({"event": "second", "level": "info"}) + "\n")
    # A new shipper (the agent restarted) resumes after what was delivered.
    assert LokiShipper(config).ship_once(stop) == 1
    assert [line["event"] for _, line in lines_of(loki.received)] == ["first", "second"]


def test_a_batch_loki_refuses_for_good_is_dropped_so_later_lines_still_flow(
    tmp_path: Path, loki: LokiDouble
) -> None:
    config = make_config(tmp_path, loki.url)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ops.log").write_text(json.dumps({"event": "too old", "level": "info"}) + "\n")
    loki.answers = [400]
    stop = threading.Event()
    shipper = LokiShipper(config)
    assert shipper.ship_once(stop) == 1
    with (logs / "ops.log").open("a") as out:
        out.write(json.dumps({"event": "fresh", "level": "info"}) + "\n")
    assert shipper.ship_once(stop) == 1
    assert [line["event"] for _, line in lines_of(loki.received)] == ["fresh"]


def test_stopping_while_loki_is_down_returns_promptly(tmp_path: Path, loki: LokiDouble) -> None:
    config = make_config(tmp_path, loki.url)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "agent.log").write_text(json.dumps({"event": "x", "level": "info"}) + "\n")
    loki.answers = [500] * 100
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    assert LokiShipper(config).ship_once(stop) == 0
    assert loki.received == []
