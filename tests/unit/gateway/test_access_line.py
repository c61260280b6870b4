"""The access line as a configured process writes it: straight to the log file (stderr
without one), the same JSON line structlog's path writes, and none below the log level."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gristops.observe.logfiles import LogFile
from gristops.observe.logging import configure_logging
from tests.unit.gateway.test_middleware import client, make_app


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    for handler in logging.getLogger().handlers:
        handler.close()
    logging.getLogger().handlers[:] = []


async def _request(path: Path, level: str = "info", json_lines: bool = True) -> list[dict]:  # type: ignore[type-arg]
    configure_logging(level, json_lines, LogFile(path))
    app, _ = make_app()
    async with client(app) as c:
        await c.get("/items/2", headers={"X-Request-ID": "req-abcdef12"})
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_the_line_goes_to_the_log_file_alone_with_structlogs_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = await _request(tmp_path / "gateway.log")
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["logger"] == "gristops.access"
    assert line["time"].endswith("Z")
    assert line["request_id"] == "req-abcdef12"
    assert (line["method"], line["route"], line["status"], line["user_id"]) == (
        "GET",
        "/items/{item_id}",
        200,
        7,
    )
    assert isinstance(line["duration_ms"], float)
    assert capsys.readouterr().err == ""  # one copy: the journal is spared a line per request


async def test_without_a_log_file_the_line_goes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", True, None)
    app, _ = make_app()
    async with client(app) as c:
        await c.get("/items/2", headers={"X-Request-ID": "req-abcdef12"})
    line = json.loads(capsys.readouterr().err.strip())
    assert (line["event"], line["request_id"], line["status"]) == ("request", "req-abcdef12", 200)


async def test_the_direct_line_has_the_keys_structlogs_path_writes(tmp_path: Path) -> None:
    direct = (await _request(tmp_path / "direct.log"))[0]
    # Console lines on stderr: the access line takes structlog's path; the file is JSON.
    through_structlog = (await _request(tmp_path / "console.log", json_lines=False))[0]
    assert direct.keys() == through_structlog.keys()
    assert {k: v for k, v in direct.items() if k not in ("time", "duration_ms")} == {
        k: v for k, v in through_structlog.items() if k not in ("time", "duration_ms")
    }


async def test_no_access_line_below_the_log_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _request(tmp_path / "gateway.log", level="warning") == []
    assert "request" not in capsys.readouterr().err


async def test_a_test_capturing_structlog_still_sees_the_line(tmp_path: Path) -> None:
    configure_logging("info", True, LogFile(tmp_path / "gateway.log"))
    app, _ = make_app()
    with structlog.testing.capture_logs() as logs:
        async with client(app) as c:
            await c.get("/items/3")
    assert [e["route"] for e in logs if e["event"] == "request"] == ["/items/{item_id}"]
    assert (tmp_path / "gateway.log").read_text() == ""
