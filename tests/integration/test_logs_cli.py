"""`gristops logs` over the logs real gristops processes wrote (the agent and a job run)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.errors import BadRequest
from gristops.runtime.process import Service

pytestmark = pytest.mark.integration

CONFIG = """\
data_dir: data
grist: {document_id: Shop}
observe:
  agent:
    jobs:
      - {name: broken, command: [config, no-such-verb], every: 1h}
"""
NGINX = {
    "time_iso8601": "2026-01-01T10:00:00+00:00",
    "request": "GET /api/docs/Shop/tables HTTP/1.1",
    "status": "502",
    "request_id": "edge0123456789",
}

# Lines as nginx writes its error log (local time, then level, pid#tid, connection).
NGINX_ERRORS = (
    "2026/01/01 10:00:01 [notice] 812#812: signal process started\n"
    "2026/01/01 10:00:02 [error] 813#813: *7 connect() failed (111: Connection refused) "
    "while connecting to upstream, client: 127.0.0.1\n"
    "2026/01/01 10:00:03 [crit] 813#813: *8 SSL_do_handshake() failed\n"
)


def gristops(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    path = root / "gristops.yaml"
    path.write_text(CONFIG)
    gristops(path, "agent", "--job", "broken")  # writes agent.log and ops.log
    logs = root / "data" / "logs"
    (logs / "nginx-access.log").write_text(json.dumps(NGINX) + "\n{broken json\n")
    (logs / "nginx-error.log").write_text(NGINX_ERRORS)
    return path


def test_errors_from_every_service_are_found_by_level(config: Path) -> None:
    result = gristops(config, "logs", "--level", "error", "--json")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    services = {e["service"] for e in entries}
    assert {"agent", "ops", "nginx"} <= services
    assert all(e["level"] in ("error", "critical") for e in entries)
    failed = next(e for e in entries if e["service"] == "agent" and e.get("event") == "job failed")
    assert failed["job"] == "broken" and failed["run_id"]


def test_nginx_error_log_lines_have_their_time_level_and_message(config: Path) -> None:
    result = gristops(config, "logs", "--service", "nginx", "--level", "error", "--json")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    messages = [e["event"] for e in entries]
    assert (
        "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1"
        in messages
    )
    assert "SSL_do_handshake() failed" in messages
    assert not any("signal process started" in m for m in messages)
    text = gristops(config, "logs", "--service", "nginx", "--grep", "connect()")
    [line] = text.stdout.splitlines()
    assert line.startswith("2026-01-01 ") and " ERROR " in line


def test_an_unknown_service_is_an_error(config: Path) -> None:
    result = gristops(config, "logs", "--service", "gatway")
    assert result.returncode == 2
    assert "unknown service 'gatway'" in result.stderr
    assert "gateway" in result.stderr.split("hint:")[1]


def test_a_run_id_and_a_request_id_find_their_lines(config: Path) -> None:
    listing = gristops(config, "logs", "--service", "agent", "--json")
    run_id = next(
        json.loads(line)["run_id"] for line in listing.stdout.splitlines() if "run_id" in line
    )
    ops = gristops(config, "logs", "--service", "ops", "--grep", run_id)
    assert "no-such-verb" in ops.stdout
    edge = gristops(config, "logs", "--request-id", "edge0123456789")
    assert "GET /api/docs/Shop/tables HTTP/1.1 502" in edge.stdout
    assert "nginx" in edge.stdout


def test_bad_options_get_a_clear_error_with_a_hint(config: Path) -> None:
    runner = CliRunner()
    since = runner.invoke(app, ["logs", "--since", "yesterday-ish", "-c", str(config)])
    assert isinstance(since.exception, BadRequest)
    assert "--since 1h" in since.exception.hint
    level = runner.invoke(app, ["logs", "--level", "loud", "-c", str(config)])
    assert isinstance(level.exception, BadRequest)
    assert "warning" in level.exception.hint


def test_follow_prints_lines_written_after_it_started(config: Path) -> None:
    out = config.parent / "follow.out"
    command = [sys.executable, "-m", "gristops", "logs", "-f", "-n", "1", "--grep", "late line"]
    with Service("logs -f", [*command, "-c", str(config)], log_path=out) as follower:
        time.sleep(1.5)  # let it start and note where the files end
        with (config.parent / "data" / "logs" / "agent.log").open("a") as log:
            log.write(json.dumps({"event": "late line", "level": "warning"}) + "\n")
        deadline = time.monotonic() + 15
        while "late line" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert follower.running()
    assert "late line" in out.read_text()
