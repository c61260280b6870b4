"""`gristops agent`: one long-running process that runs the scheduled jobs of the config.

Each due job runs in its own thread (a long backup never delays a certificate
renewal) as a subprocess, under its lock (see jobs.py). The agent also serves
its metrics and, when observe.loki.url is set, ships the logs to Loki. Setting
the stop event (SIGTERM) stops scheduling, stops running jobs (SIGTERM, then
SIGKILL after a grace period), records them as killed and returns.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import CollectorRegistry, start_http_server

from gristops.agent.jobs import JobRunner
from gristops.agent.metrics import AgentCollector
from gristops.agent.records import AgentRuns
from gristops.agent.schedule import due_at
from gristops.config import Config
from gristops.config.observe import JobSpec
from gristops.observe.loki import LokiShipper
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.agent")
MAX_SLEEP = 1.0  # wake this often: a finished job's next slot and clock jumps are noticed
BUSY_RETRY = 30.0  # seconds before retrying a job another process was running


class Agent:
    def __init__(self, config: Config, config_path: Path, state: StateDB) -> None:
        self.config = config
        self.state = state
        self.runs = AgentRuns(state)
        self.runner = JobRunner(config, config_path, state)
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}

    def running(self) -> set[str]:
        with self._lock:
            return {name for name, t in self._threads.items() if t.is_alive()}

    def serve_metrics(self, host: str, port: int) -> WSGIServer:
        registry = CollectorRegistry(auto_describe=True)
        registry.register(AgentCollector(self.config, self.state, self.running))
        server, _thread = start_http_server(port, addr=host, registry=registry)
        log.info("agent metrics", url=f"http://{host}:{port}/metrics")
        return server

    def run(self, stop: threading.Event) -> None:
        """Schedule until `stop` is set, then stop the running jobs and return."""
        jobs = self.config.observe.agent.jobs
        now = time.time()
        self._due = {job.name: due_at(job, self.runs.last_started(job.name), now) for job in jobs}
        shipper = self._start_shipping(stop)
        log.info("agent started", jobs=[job.name for job in jobs])
        while not stop.is_set():
            now = time.time()
            for job in jobs:
                if self._due[job.name] <= now and job.name not in self.running():
                    self._start(job, stop)
            wake = min(self._due.values(), default=now + MAX_SLEEP)
            stop.wait(min(max(wake - time.time(), 0.05), MAX_SLEEP))
        log.info("agent stopping", running=sorted(self.running()))
        for thread in list(self._threads.values()):
            thread.join()
        if shipper is not None:
            shipper.join()
        self.runner.close()
        log.info("agent stopped")

    def _start(self, job: JobSpec, stop: threading.Event) -> None:
        def work() -> None:
            ran = False
            try:
                ran = self.runner.run_if_due(job, stop) is not None
            except Exception:  # a bug in one run must not end the agent
                log.exception("job run failed in the agent", job=job.name)
            finally:
                # The next slot counts from the last start, whoever ran it; a job
                # another process still runs has no new start yet: try again later.
                now = time.time()
                due = due_at(job, self.runs.last_started(job.name) or now, now)
                self._due[job.name] = due if ran or due > now else now + BUSY_RETRY

        # Not due again until this run has rescheduled it.
        self._due[job.name] = float("inf")
        thread = threading.Thread(target=work, name=f"job-{job.name}")
        with self._lock:
            self._threads[job.name] = thread
        thread.start()

    def _start_shipping(self, stop: threading.Event) -> threading.Thread | None:
        if self.config.observe.loki.url is None:
            return None
        shipper = LokiShipper(self.config)
        thread = threading.Thread(target=shipper.run, args=(stop,), name="loki", daemon=True)
        thread.start()
        return thread
