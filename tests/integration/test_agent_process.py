"""`gristops agent` as a real process: scheduled jobs as subprocesses, metrics, locks, SIGTERM."""

from __future__ import annotations

import fcntl
import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.gateway_harness import free_port

pytestmark = pytest.mark.integration

JOBS = """\
observe:
  agent:
    jobs:
      - {name: check, command: [config, check, --no-store], every: 2s}
      - {name: broken, command: [config, no-such-verb], every: 1h}
"""


def write_config(root: Path, jobs: str = JOBS) -> Path:
    config = root / "gristops.yaml"
    config.write_text(f"data_dir: data\ngrist: {{document_id: Shop}}\n{jobs}")
    return config


@contextmanager
def agent(config: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with (config.parent / "agent.out").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gristops", "agent", "-c", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def runs(root: Path) -> list[tuple[str, float, float, str]]:
    path = root / "data" / "state.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        try:
            rows = conn.execute(
                "SELECT job, started_at, finished_at, outcome FROM agent_runs ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [(str(a), float(b), float(c), str(d)) for a, b, c, d in rows]


def wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_the_agent_runs_jobs_reports_metrics_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    port = free_port()
    with agent(config, "--metrics-port", str(port)) as process:
        wait_until(lambda: any(r[0] == "check" for r in runs(tmp_path)))
        wait_until(lambda: any(r[0] == "broken" for r in runs(tmp_path)))
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    assert 'gristops_agent_job_last_success{job="check"} 1.0' in metrics
    assert 'gristops_agent_job_last_success{job="broken"} 0.0' in metrics
    assert 'gristops_agent_job_runs_total{job="broken",outcome="failed"} 1.0' in metrics
    # A failing job is recorded and the agent goes on: check kept running after it.
    outcomes = {job: outcome for job, _, _, outcome in runs(tmp_path)}
    assert outcomes["broken"] == "failed"
    ops = (tmp_path / "data" / "logs" / "ops.log").read_text().splitlines()
    lines = [json.loads(line) for line in ops]
    assert any(line["job"] == "broken" and line["level"] == "error" for line in lines)
    agent_log = (tmp_path / "data" / "logs" / "agent.log").read_text().splitlines()
    assert "agent stopped" in [json.loads(line)["event"] for line in agent_log]


def test_two_agents_on_one_data_dir_never_run_a_job_at_the_same_time(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "observe:\n  agent:\n    jobs:\n      - {name: check, command: [config, check, --no-store], every: 1s}\n",
    )
    with agent(config) as first, agent(config) as second:
        wait_until(lambda: len(runs(tmp_path)) >= 3, timeout=40)
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
        for process in (first, second):
            assert process.wait(timeout=40) == 0
    spans = sorted((start, end) for _, start, end, _ in runs(tmp_path))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # each run began after the previous one ended


def test_a_timer_run_is_skipped_while_another_process_holds_the_job(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    locks = tmp_path / "data" / "locks"
    locks.mkdir(parents=True)
    with open(locks / "job-check.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        skipped = subprocess.run(
            [
                sys.executable,
                "-m",
                "gristops",
                "agent",
                "-c",
                str(config),
                "--job",
                "check",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert skipped.returncode == 0
    assert json.loads(skipped.stdout)["outcome"] == "skipped"
    ran = subprocess.run(
        [sys.executable, "-m", "gristops", "agent", "-c", str(config), "--job", "broken"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert "job broken failed" in ran.stderr
    assert "gristops logs --service ops" in ran.stderr
