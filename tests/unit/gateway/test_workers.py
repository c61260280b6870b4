"""How many workers `serve` runs, their run directory, and the one worker that leads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gristops.config import Config
from gristops.config.model import ServerSection
from gristops.gateway import workers as workers_module
from gristops.gateway.workers import (
    METRICS_ENV,
    RUN_DIR_ENV,
    Leadership,
    prepare_run_dir,
    run_dir_from_env,
    worker_count,
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.model_validate({"data_dir": tmp_path / "data", "grist": {"document_id": "Shop"}})


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 2), (4, 4), (64, 8)])
def test_one_worker_per_cpu_by_default_at_most_eight(
    monkeypatch: pytest.MonkeyPatch, cpus: int, expected: int
) -> None:
    monkeypatch.setattr(workers_module, "available_cpus", lambda: cpus)
    assert worker_count(ServerSection()) == expected


def test_an_explicit_worker_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "available_cpus", lambda: 64)
    assert worker_count(ServerSection(workers=3)) == 3
    assert worker_count(ServerSection(workers=12)) == 12


def test_the_run_directory_is_fresh_and_stale_ones_are_removed(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    monkeypatch.delenv(METRICS_ENV, raising=False)
    runs = config.data_dir.resolve() / "run"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)  # fmt: skip
    stale = runs / f"gateway-{dead.stdout.strip()}" / "metrics"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    live = runs / f"gateway-{os.getppid()}"  # another gateway that still runs
    live.mkdir()
    bcrypt_lock = runs / "bcrypt-0.lock"
    bcrypt_lock.touch()

    run_dir = prepare_run_dir(config)

    assert run_dir == runs / f"gateway-{os.getpid()}"
    assert list((run_dir / "metrics").iterdir()) == []
    assert not stale.parent.exists()
    assert live.exists() and bcrypt_lock.exists()
    assert run_dir_from_env() == run_dir
    assert os.environ[METRICS_ENV] == str(run_dir / "metrics")


def test_a_single_worker_has_no_run_directory_and_leads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert run_dir_from_env() is None
    assert Leadership(None).acquire()


def test_one_worker_leads_until_it_lets_go(tmp_path: Path) -> None:
    first, second = Leadership(tmp_path), Leadership(tmp_path)
    assert first.acquire() and first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_the_leader_runs_the_jobs_and_a_follower_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_module, "LEADER_POLL_SECONDS", 0.01)
    started: list[str] = []

    class Job:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __aenter__(self) -> None:
            started.append(self.name)

        async def __aexit__(self, *exc: object) -> None:
            started.append(f"{self.name} stopped")

    async def scenario() -> None:
        leader, follower = Leadership(tmp_path), Leadership(tmp_path)
        async with leader.running([Job("leader")]):
            await asyncio.sleep(0.05)
            async with follower.running([Job("follower")]):
                await asyncio.sleep(0.05)
                assert started == ["leader"]
            # the follower gave up waiting when its app stopped
        assert started == ["leader", "leader stopped"]
        async with follower.running([Job("follower")]):
            await asyncio.sleep(0.05)
        assert started[-2:] == ["follower", "follower stopped"]

    asyncio.run(scenario())
