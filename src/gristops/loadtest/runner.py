"""`python -m gristops.loadtest.runner JOB`: one plan run by Locust in library mode.

A process of its own because Locust monkey-patches the standard library with
gevent, which must never happen in the asyncio gateway or the CLI. JOB is a
JSON file {plan, target, ca_file, plan_name, progress, result}; the password
comes in the environment (RUNNER_PASSWORD_ENV). It writes a progress file every
second and the result (result.Result) at the end, then exits 0; the caller
judges the result.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Locust patches the standard library with gevent when imported (no socket is open before).
import gevent
from locust import LoadTestShape
from locust.env import Environment
from locust.runners import STATE_STOPPED, Runner
from locust.stats import RequestStats, StatsEntry

from gristops.files import write_atomic
from gristops.loadtest.plan import RUNNER_PASSWORD_ENV, Plan, Stage, users_at
from gristops.loadtest.result import ErrorCount, Point, Progress, Result, Stats, Window
from gristops.loadtest.traffic import user_class

GRACE_SECONDS = 30.0  # past the stages, the run is cut off (users stuck in a request)


class Stages(LoadTestShape):
    """The plan's stages as a Locust shape: tick() once a second asks for the users wanted now."""

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        super().__init__()
        self.stages = stages

    def tick(self) -> tuple[int, float] | None:
        users = users_at(self.stages, self.get_run_time())
        # A high spawn rate: tick() already follows the ramp second by second.
        return None if users is None else (users, 1000.0)


def _stats(entry: StatsEntry, seconds: float) -> Stats:
    requests = entry.num_requests
    return Stats(
        requests=requests,
        failures=entry.num_failures,
        error_rate=entry.num_failures / requests if requests else 0.0,
        rps=requests / seconds if seconds > 0 else 0.0,
        avg_ms=entry.avg_response_time,
        p50_ms=entry.get_response_time_percentile(0.5),
        p95_ms=entry.get_response_time_percentile(0.95),
        p99_ms=entry.get_response_time_percentile(0.99),
        max_ms=entry.max_response_time,
    )


def _window(entry: StatsEntry) -> Window:
    if not entry.num_requests:
        return Window()
    return Window(
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50_ms=entry.get_response_time_percentile(0.5),
        p95_ms=entry.get_response_time_percentile(0.95),
    )


class Recorder:
    """Every request also lands in the statistics of its second: the timeline."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.windows: dict[int, RequestStats] = {}
        self.users: dict[int, int] = {}

    def second(self) -> int:
        return int(time.monotonic() - self.started)

    def request(self, request_type: str, name: str, response_time: float, response_length: int,
                exception: Exception | None = None, **_: Any) -> None:  # fmt: skip
        window = self.windows.get(self.second())
        if window is None:
            window = self.windows[self.second()] = RequestStats(use_response_times_cache=False)
        window.log_request(request_type, name, round(response_time), response_length)
        if exception is not None:
            window.log_error(request_type, name, exception)

    def timeline(self) -> list[Point]:
        points, users = [], 0
        for second in range(max([*self.windows, *self.users], default=-1) + 1):
            window = self.windows.get(second) or RequestStats(use_response_times_cache=False)
            users = self.users.get(second, users)  # a second the 1 s sampling skipped: as before
            points.append(Point(
                t=float(second),
                users=users,
                overall=_window(window.total),
                scenarios={name: _window(entry) for (name, _m), entry in window.entries.items()},
            ))  # fmt: skip
        return points


def _progress(runner: Runner, recorder: Recorder, total_seconds: float, path: Path) -> None:
    """Write what the caller shows on its progress line (once a second)."""
    last = recorder.windows.get(recorder.second() - 1)
    entry = last.total if last else None
    stats = runner.stats.total
    progress = Progress(
        t=time.monotonic() - recorder.started,
        seconds=total_seconds,
        users=runner.user_count,
        requests=stats.num_requests,
        failures=stats.num_failures,
        rps=entry.num_requests if entry else 0,
        p95_ms=entry.get_response_time_percentile(0.95) if entry and entry.num_requests else None,
    )
    write_atomic(path, progress.model_dump_json())


def run(job: dict[str, Any], password: str) -> Result:
    plan = Plan.model_validate(job["plan"])
    target = str(job["target"]).rstrip("/")
    user = user_class(plan, target, password, job.get("ca_file"))
    environment = Environment(user_classes=[user], shape_class=Stages(plan.stages))
    runner = environment.create_local_runner()
    recorder = Recorder()
    environment.events.request.add_listener(recorder.request)
    gevent.signal_handler(signal.SIGTERM, runner.quit)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    recorder.started = time.monotonic()
    runner.start_shape()
    deadline = recorder.started + plan.seconds + GRACE_SECONDS
    peak = 0
    while runner.state != STATE_STOPPED and time.monotonic() < deadline:
        recorder.users[recorder.second()] = runner.user_count
        peak = max(peak, runner.user_count)
        _progress(runner, recorder, plan.seconds, Path(job["progress"]))
        gevent.sleep(1.0)
    seconds = time.monotonic() - recorder.started
    runner.quit()
    stats = environment.stats
    return Result(
        target=target,
        plan=str(job["plan_name"]),
        started_at=started_at,
        seconds=round(seconds, 3),
        peak_users=peak,
        overall=_stats(stats.total, seconds),
        scenarios={name: _stats(entry, seconds) for (name, _m), entry in stats.entries.items()},
        timeline=recorder.timeline(),
        errors=[
            ErrorCount(scenario=e.name, error=e.to_name()[:300], count=e.occurrences)
            for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)
        ],
    )


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = run(job, os.environ.get(RUNNER_PASSWORD_ENV, ""))
    write_atomic(Path(job["result"]), result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
