"""Scheduled-job metrics, read from the agent_runs table at scrape time.

The agent serves them on its own /metrics (--metrics-port); `metric_families`
is also the ops-collector entry point, so the gateway's /metrics can carry
them too. Runs made by systemd timers count as well: they record the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gristops.agent.records import AgentRuns
from gristops.config import Config
from gristops.state.db import StateDB


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
    runs_table = AgentRuns(state)
    latest = runs_table.latest()
    # Only configured jobs: a job removed from the config stops being reported.
    for run in latest:
        if run.job in configured:
            last_run.add_metric([run.job], run.finished_at)
            duration.add_metric([run.job], run.finished_at - run.started_at)
            success.add_metric([run.job], 1.0 if run.outcome == "success" else 0.0)
            if run.last_success is not None:
                success_at.add_metric([run.job], run.last_success)
    for job, outcome, count in runs_table.counts():
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
