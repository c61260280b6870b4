"""One run of a scheduled job: take its lock, run the gristops verb, record the outcome.

The lock is an flock on data_dir/locks/job-<name>.lock: the kernel drops it
when the holder dies, so a crashed agent never leaves a job locked, and two
agents (or an agent and a systemd timer) on one data dir never run the same
job at once. The job is a subprocess (`python -m gristops <verb>`) started
through runtime/process.py, so a crash in it never takes the agent down.
Its output goes to data_dir/logs/ops.log, one JSON line per output line.
"""

from __future__ import annotations

import fcntl
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import structlog

from gristops.agent.records import AgentRuns
from gristops.agent.schedule import due_at
from gristops.config import Config
from gristops.config.observe import JobSpec
from gristops.errors import ExternalProgramError
from gristops.observe.logfiles import LogFile, SharedRotatingFileHandler, log_dir, log_file
from gristops.runtime.process import Service
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.agent")
Outcome = Literal["success", "failed", "timeout", "killed", "error"]
OUTPUT_TAIL = 4000  # characters of output kept in the state DB (the full output is in ops.log)
POLL = 0.1


@dataclass(frozen=True)
class JobResult:
    job: str
    run_id: str
    outcome: Outcome
    exit_code: int | None
    started_at: float
    finished_at: float

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at


@contextmanager
def job_lock(config: Config, name: str) -> Iterator[bool]:
    """Hold the job's lock for the block; yields False (without waiting) if another holds it."""
    locks = config.data_dir / "locks"
    locks.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(locks / f"job-{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class OpsLog:
    """data_dir/logs/ops.log: every job's output, one JSON line each, tagged with job and run id."""

    def __init__(self, target: LogFile | None) -> None:
        self._handler = SharedRotatingFileHandler(target) if target else None
        if self._handler:
            self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, job: str, run_id: str, line: str, level: str) -> None:
        if self._handler is None:
            return
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            data = {"event": line, "level": level, "logger": "gristops.ops"}
        data.setdefault("time", datetime.now(UTC).isoformat())
        data.update(job=job, run_id=run_id)
        text = orjson.dumps(data, default=str).decode()
        self._handler.emit(logging.makeLogRecord({"msg": text, "args": None}))

    def close(self) -> None:
        if self._handler:
            self._handler.close()


class JobRunner:
    """Runs jobs of one config, one subprocess per run, recording each outcome."""

    def __init__(self, config: Config, config_path: Path, state: StateDB) -> None:
        self.config = config
        self.config_path = config_path.resolve()
        self.state = state
        self.runs = AgentRuns(state)
        self.ops_log = OpsLog(log_file(config, "ops"))

    def run_if_due(self, job: JobSpec, stop: threading.Event) -> JobResult | None:
        """Run `job` unless another process runs it or already ran it for this slot."""
        with job_lock(self.config, job.name) as held:
            if not held:
                log.info("job already running elsewhere; skipped", job=job.name)
                return None
            # Another agent may have run it while this one waited: check under the lock.
            if due_at(job, self.runs.last_started(job.name), time.time()) > time.time():
                return None
            return self._run(job, stop)

    def run_now(self, job: JobSpec, stop: threading.Event) -> JobResult | None:
        """Run `job` now whatever its schedule (a systemd timer fired); None if locked."""
        with job_lock(self.config, job.name) as held:
            if not held:
                log.info("job already running elsewhere; skipped", job=job.name)
                return None
            return self._run(job, stop)

    def _run(self, job: JobSpec, stop: threading.Event) -> JobResult:
        run_id = uuid.uuid4().hex[:16]
        out_path = log_dir(self.config) / "jobs" / f"{job.name}.out"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.unlink(missing_ok=True)
        service = Service(
            f"job {job.name}",
            [sys.executable, "-m", "gristops", *job.command],
            log_path=out_path,
            env={"GRISTOPS_CONFIG": str(self.config_path), "GRISTOPS_JOB": job.name},
            # Verbs find the config through GRISTOPS_CONFIG, or as gristops.yaml beside it.
            cwd=self.config_path.parent,
            stop_timeout=30,
        )
        started = time.time()
        log.info("job started", job=job.name, run_id=run_id, command=" ".join(job.command))
        outcome, code = self._supervise(service, job, stop)
        result = JobResult(job.name, run_id, outcome, code, started, time.time())
        output = _read(out_path)
        level = "info" if outcome == "success" else "error"
        for line in output.splitlines():
            if line.strip():
                self.ops_log.write(job.name, run_id, line, level)
        self.runs.record(
            job.name,
            " ".join(job.command),
            result.started_at,
            result.finished_at,
            result.outcome,
            result.exit_code,
            output[-OUTPUT_TAIL:],
        )
        event: dict[str, Any] = {
            "job": job.name,
            "run_id": run_id,
            "outcome": outcome,
            "exit_code": code,
            "seconds": round(result.seconds, 3),
        }
        if outcome == "success":
            log.info("job finished", **event)
        else:
            log.error("job failed", **event, output=output[-500:])
        return result

    def _supervise(
        self, service: Service, job: JobSpec, stop: threading.Event
    ) -> tuple[Outcome, int | None]:
        try:
            service.start()
        except ExternalProgramError as exc:
            log.error("job could not start", job=job.name, error=exc.message)
            return "error", None
        deadline = time.monotonic() + job.timeout
        while service.running():
            if stop.is_set():
                return "killed", service.stop()
            if time.monotonic() > deadline:
                return "timeout", service.stop()
            stop.wait(POLL)
        code = service.stop()
        return ("success" if code == 0 else "failed"), code

    def close(self) -> None:
        self.ops_log.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def find_job(config: Config, name: str) -> JobSpec | None:
    return next((job for job in config.observe.agent.jobs if job.name == name), None)
