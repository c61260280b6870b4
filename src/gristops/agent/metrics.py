"""Scheduled-job metrics, read from the agent_runs table at scrape time.

The agent serves them on its own /metrics (--metrics-port); `metric_families`
is also the ops-collector entry point, so the gateway's /metrics can carry
them too. Runs made by systemd timers count as well: they record the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gristops.config import Config
from gristops.state.db import StateDB

_LATEST = (
    "SELECT r.job, r.started_at, r.finished_at, r.outcome FROM agent_runs r"
    " WHERE r.id IN (SELECT MAX(id) FROM agent_runs GROUP BY job)"
)
_LAST_SUCCESS = (
    "SELECT job, MAX(finished_at) FROM agent_runs WHERE outcome = 'success' GROUP BY job"
)
_COUNTS = "SELECT job, outcome, COUNT(*) FROM agent_runs GROUP BY job, outcome"


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    """Last run, duration, outcome and run counts per job."""
    last_run = GaugeMetricFamily(
        "gristops_agent_job_last_run_timestamp_seconds",
        "When the job's last run finished (Unix time).",
        labels=["job"],
    )
    duration = GaugeMetricFamily(
        "gristops_agent_job_last_duration_seconds",
        "How long the job's last run took.",
        labels=["job"],
    )
    success = GaugeMetricFamily(
        "gristops_agent_job_last_success",
        "1 if the job's last run succeeded, else 0.",
        labels=["job"],
    )
    success_at = GaugeMetricFamily(
        "gristops_agent_job_last_success_timestamp_seconds",
        "When the job last succeeded (Unix time).",
        labels=["job"],
    )
    runs = CounterMetricFamily(
        "gristops_agent_job_runs", "Job runs by outcome.", labels=["job", "outcome"]
    )
    configured = {job.name for job in config.observe.agent.jobs}
    with state.reading() as conn:
        try:
            latest = conn.execute(_LATEST).fetchall()
            last_success = conn.execute(_LAST_SUCCESS).fetchall()
            counts = conn.execute(_COUNTS).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            latest, last_success, counts = [], [], []
    # Only configured jobs: a job removed from the config stops being reported.
    for job, started, finished, outcome in latest:
        if job in configured:
            last_run.add_metric([job], finished)
            duration.add_metric([job], finished - started)
            success.add_metric([job], 1.0 if outcome == "success" else 0.0)
    for job, finished in last_success:
        if job in configured:
            success_at.add_metric([job], finished)
    for job, outcome, count in counts:
        if job in configured:
            runs.add_metric([job, outcome], count)
    return [last_run, duration, success, success_at, runs]


class AgentCollector(Collector):
    """The agent's own /metrics: the job families plus which jobs are running right now."""

    def __init__(self, config: Config, state: StateDB, running: Callable[[], set[str]]) -> None:
        self.config = config
        self.state = state
        self.running = running

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from metric_families(self.config, self.state)
        active = GaugeMetricFamily(
            "gristops_agent_job_running", "1 while this agent runs the job.", labels=["job"]
        )
        now_running = self.running()
        for job in self.config.observe.agent.jobs:
            active.add_metric([job.name], 1.0 if job.name in now_running else 0.0)
        yield active
