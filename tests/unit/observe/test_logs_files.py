"""Log files: every process's JSON lines in data_dir/logs, rotation that loses nothing, search and follow."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from gristops.config import Config
from gristops.observe.logfiles import LogFile, SharedRotatingFileHandler, rotated_files
from gristops.observe.logging import configure_process_logging
from gristops.observe.logread import LogFilter, parse_line, search
from gristops.observe.logtail import LogTailer


def config(tmp_path: Path, **logs: object) -> Config:
    return Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "grist": {"document_id": "Shop"},
            "observe": {"logs": logs},
        }
    )


def writer(path: Path, max_bytes: int, keep: int) -> logging.Logger:
    handler = SharedRotatingFileHandler(LogFile(path, max_bytes, keep))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.Logger(f"w{id(handler)}")
    logger.addHandler(handler)
    return logger


def line(n: int, level: str = "info", **extra: object) -> str:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return json.dumps({"time": at.isoformat(), "level": level, "event": f"event {n}", **extra})


def test_a_process_writes_json_lines_with_time_level_logger_and_request_id(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    configure_process_logging(cfg, "gateway")
    try:
        structlog.contextvars.bind_contextvars(request_id="req-12345678")
        structlog.get_logger("gristops.test").warning("disk nearly full", password="hunter2")
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers[:] = []
    record = json.loads((tmp_path / "data" / "logs" / "gateway.log").read_text().splitlines()[-1])
    assert record["event"] == "disk nearly full"
    assert record["level"] == "warning"
    assert record["logger"] == "gristops.test"
    assert record["request_id"] == "req-12345678"
    assert record["password"] == "***"
    assert "time" in record


def test_rotation_by_two_writers_keeps_every_line_and_only_keep_files(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    first, second = writer(path, 2000, 3), writer(path, 2000, 3)
    for n in range(200):
        (first if n % 2 else second).info(line(n))
    files = rotated_files(path)
    assert len(files) == 4  # gateway.log.3 .. .1 and gateway.log
    kept = [json.loads(raw)["event"] for f in files for raw in f.read_text().splitlines()]
    assert len(kept) == len(set(kept))  # nothing written twice
    assert kept[-1] == "event 199"
    numbers = [int(e.split()[1]) for e in kept]
    assert numbers == sorted(numbers)  # oldest file first, nothing lost in between
    assert numbers == list(range(numbers[0], 200))
    assert numbers[0] > 0  # the oldest lines went with the files past `keep`


def test_search_filters_by_level_text_request_id_service_and_time_across_rotated_files(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    gateway = writer(logs / "gateway.log", 1500, 5)
    for n in range(30):
        level = "error" if n == 7 else "info"
        gateway.info(line(n, level, request_id=f"r{n}", route="/api/docs/{docId}/tables"))
    (logs / "agent.log").write_text(line(8, "warning") + "\n" + "not json at all\n")
    assert (logs / "gateway.log.1").exists()

    def found(**kw: object) -> list[str]:
        return [e.event for e in search(logs, LogFilter(**kw))]  # type: ignore[arg-type]

    assert found(min_level="warning") == ["event 7", "event 8"]
    assert found(request_id="r3") == ["event 3"]
    assert found(grep="NOT JSON") == ["not json at all"]
    assert found(services=frozenset({"agent"})) == ["event 8", "not json at all"]
    since = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=28)
    assert found(since=since) == ["event 28", "event 29"]
    assert [e.event for e in search(logs, LogFilter(), limit=2)] == ["event 28", "event 29"]


def test_nginx_access_lines_get_a_level_from_their_status_and_keep_the_request_id() -> None:
    entry = parse_line(
        json.dumps(
            {
                "time_iso8601": "2026-01-01T10:00:00+00:00",
                "request": "GET /api/docs/Shop/tables HTTP/1.1",
                "status": "502",
                "request_id": "abc123def456",
            }
        ),
        "nginx",
    )
    assert (entry.level, entry.request_id) == ("error", "abc123def456")
    assert entry.event == "GET /api/docs/Shop/tables HTTP/1.1 502"
    assert entry.time == datetime(2026, 1, 1, 10, tzinfo=UTC)
    odd = parse_line(
        '{"msec": "1767261600.5", "status": 404, "uri": "/x", "method": "GET"}', "nginx"
    )
    assert odd.level == "warning" and odd.time is not None
    assert parse_line("[error] 12#0: upstream timed out", "nginx").event.startswith("[error]")


def test_follow_reads_new_lines_once_across_a_rotation(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = writer(logs / "agent.log", 600, 2)
    log.info(line(0))
    tailer = LogTailer(logs)  # starts at the end: old lines are not repeated
    seen: list[str] = []
    for n in range(1, 25):
        log.info(line(n))
        if n % 4 == 0:
            seen += [json.loads(text)["event"] for _, text in tailer.poll()]
    seen += [json.loads(text)["event"] for _, text in tailer.poll()]
    assert seen == [f"event {n}" for n in range(1, 25)]


def test_saved_positions_resume_where_the_last_reader_stopped(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = writer(logs / "ops.log", 10_000, 2)
    log.info(line(1))
    first = LogTailer(logs, from_start=True)
    assert [json.loads(t)["event"] for _, t in first.poll()] == ["event 1"]
    first.save(tmp_path / "positions.json")
    log.info(line(2))
    again = LogTailer(logs, LogTailer.load(tmp_path / "positions.json"), from_start=True)
    assert [json.loads(t)["event"] for _, t in again.poll()] == ["event 2"]
    assert LogTailer.load(tmp_path / "missing.json") == {}
