"""The `observe:` section of gristops.yaml."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gristops.config.section import Section

# --- logs, Loki, status page, agent (observe/logfiles.py, loki.py, status*, agent.py) ---

JOB_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_EVERY = re.compile(r"^(\d+)\s*([smhd])$")
_AT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class LogFilesSection(Section):
    """JSON-lines log files under data_dir/logs, one per process, rotated by size."""

    enabled: bool = Field(True, description="Also write each process's log to data_dir/logs.")
    max_bytes: int = Field(
        10 * 1024 * 1024, ge=4096, description="Rotate a log file when it passes this size."
    )
    keep: int = Field(5, ge=0, le=100, description="Rotated files kept per process (<name>.log.N).")


class LokiSection(Section):
    """Optional shipping of every log file to Loki's push API (done by `gristops agent`)."""

    url: str | None = Field(
        None, description="Loki base URL, e.g. http://loki:3100. Unset: no shipping."
    )
    tenant: str | None = Field(None, description="X-Scope-OrgID header for multi-tenant Loki.")
    batch_lines: int = Field(500, ge=1, le=10000, description="Lines per push request.")
    flush_seconds: float = Field(2.0, gt=0, le=300, description="Seconds between pushes.")
    timeout: float = Field(5.0, gt=0, le=120, description="Seconds per push request.")
    max_backoff: float = Field(60.0, gt=0, le=3600, description="Longest wait between retries.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value.rstrip("/") if value else value


class JobSpec(Section):
    """One scheduled operation: a gristops verb run as a subprocess by the agent or a timer."""

    name: str = Field(..., pattern=JOB_NAME, description="Job name (lock, metrics, unit names).")
    command: tuple[str, ...] = Field(
        ..., min_length=1, description="The gristops verb and its arguments, e.g. [backup, run]."
    )
    every: str | None = Field(None, description="Interval: 30s, 15m, 6h or 1d.")
    at: tuple[str, ...] = Field((), description="Local times of day, HH:MM (instead of every).")
    days: tuple[Weekday, ...] = Field((), description="With `at`: only these weekdays.")
    timeout: int = Field(3600, ge=1, le=7 * 86400, description="Seconds before the run is killed.")

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None and not _EVERY.match(value.strip()):
            raise ValueError("use a number and a unit: 30s, 15m, 6h or 1d")
        return value.strip() if value else value

    @field_validator("at")
    @classmethod
    def _at(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _AT.match(item):
                raise ValueError(f"{item!r} is not a time of day HH:MM (00:00 to 23:59)")
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobSpec:
        if (self.every is None) == (not self.at):
            raise ValueError(f"job {self.name!r}: set exactly one of `every` and `at`")
        if self.days and not self.at:
            raise ValueError(f"job {self.name!r}: `days` needs `at`")
        if self.command[0].startswith("-"):
            raise ValueError(f"job {self.name!r}: command must start with a gristops verb")
        return self

    def interval_seconds(self) -> int | None:
        """The `every` interval in seconds, or None for a time-of-day job."""
        if self.every is None:
            return None
        match = _EVERY.match(self.every)
        assert match is not None
        return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


class AgentSection(Section):
    """`gristops agent`: scheduled operations, never two runs of one job at once."""

    jobs: tuple[JobSpec, ...] = Field(
        (), description="Scheduled jobs (see docs/status-and-logs.md)."
    )
    metrics_host: str = Field("127.0.0.1", description="Address of the agent's /metrics.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port of the agent's /metrics; unset: not served."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> AgentSection:
        names = [job.name for job in self.jobs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"job names must be unique: {', '.join(twice)}")
        return self


class StatusSection(Section):
    """The gateway's /status page."""

    sample_seconds: float = Field(
        10.0, ge=1, le=300, description="How often request counts are sampled for the charts."
    )
    history_minutes: int = Field(
        360, ge=10, le=1440, description="Minutes of request history kept in memory."
    )


# --- end of logs, Loki, status page, agent ---


class ObserveSection(Section):
    """Metrics, alerting, logs, the status page and scheduled jobs (gristops observe, logs, agent)."""

    # logs, Loki, status page, agent
    logs: LogFilesSection = Field(default_factory=LogFilesSection)
    loki: LokiSection = Field(default_factory=LokiSection)
    agent: AgentSection = Field(default_factory=AgentSection)
    status: StatusSection = Field(default_factory=StatusSection)
