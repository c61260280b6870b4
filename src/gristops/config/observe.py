"""The `observe:` section of gristops.yaml."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from gristops.config.section import Section
from gristops.durations import EXAMPLES, parse_duration

# host:port as Prometheus writes scrape targets (IPv6 in brackets).
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


def _check_target(value: str) -> str:
    if not _HOST_PORT.match(value):
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8484)")
    return value


class PrometheusSettings(Section):
    """What the rendered prometheus.yml scrapes and where it sends alerts."""

    listen: str = Field("127.0.0.1:9090", description="host:port Prometheus listens on.")
    gateway_targets: tuple[str, ...] = Field(
        (),
        description="host:port of every gateway slot (blue and green); empty: server.host:server.port.",
    )
    node_exporter: str | None = Field(
        "127.0.0.1:9100", description="host:port of node_exporter (disk alerts); null: none."
    )
    alertmanager: str = Field("127.0.0.1:9093", description="host:port of Alertmanager.")
    scrape_interval: int = Field(15, ge=1, le=300, description="Seconds between scrapes.")
    evaluation_interval: int = Field(
        15, ge=1, le=300, description="Seconds between alert rule evaluations."
    )
    store_probe_interval: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds between the gateway's store pings (gristops_store_up).",
    )
    request_metrics: bool = Field(
        True,
        description="Count and time every HTTP request (gristops_http_*); the status page's "
        "request history and the SLO alerts need them. false: to measure what they cost.",
    )

    @field_validator("listen", "alertmanager", "node_exporter")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        return None if value is None else _check_target(value)

    @field_validator("gateway_targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_target(v) for v in value)


class AlertThresholds(Section):
    """When the alert rules fire."""

    p95_latency_seconds: float = Field(
        0.5, gt=0, description="Alert when the gateway's p95 latency stays above this (s)."
    )
    replication_lag_seconds: int = Field(
        300, ge=1, description="Alert when a replica is behind by more than this (s)."
    )
    drill_max_age_days: float = Field(
        8, gt=0, description="Alert when the last restore drill is older than this (days)."
    )
    certificate_remaining_fraction: float = Field(
        1 / 3, gt=0, lt=1, description="Alert when a certificate has less of its lifetime left."
    )
    disk_used_percent: float = Field(
        85, gt=0, lt=100, description="Alert when a filesystem is fuller than this (%)."
    )


class EmailReceiver(Section):
    """Alerts by email through an SMTP relay."""

    to: tuple[str, ...] = Field(..., min_length=1, description="Recipient addresses.")
    sender: str = Field(..., alias="from", description="The From: address.")
    smarthost: str = Field(..., description="SMTP relay host:port, e.g. smtp.example.com:587.")
    username: str | None = Field(None, description="SMTP login, if the relay needs one.")
    password: SecretStr | None = Field(None, description="SMTP password: use ${SMTP_PASSWORD}.")
    require_tls: bool = Field(True, description="Refuse to send over an unencrypted connection.")

    @field_validator("smarthost")
    @classmethod
    def _smarthost(cls, value: str) -> str:
        return _check_target(value)


class WebhookReceiver(Section):
    """Alerts POSTed as Alertmanager's webhook JSON."""

    url: str = Field(..., pattern=r"^https?://\S+$", description="The URL alerts are POSTed to.")
    bearer_token: SecretStr | None = Field(
        None, description="Sent as Authorization: Bearer; use ${WEBHOOK_TOKEN}."
    )


class NtfyReceiver(Section):
    """Alerts as ntfy push notifications (ntfy 2.10+ formats them with its templates)."""

    topic_url: str = Field(
        ...,
        pattern=r"^https?://[^\s?#]+/[A-Za-z0-9_-]+$",
        description="The topic URL, e.g. https://ntfy.sh/my-shop-alerts.",
    )
    token: SecretStr | None = Field(None, description="ntfy access token; use ${NTFY_TOKEN}.")


class Receivers(Section):
    """Where Alertmanager sends alerts; every configured receiver gets every alert."""

    email: EmailReceiver | None = Field(None, description="SMTP email receiver.")
    webhook: WebhookReceiver | None = Field(None, description="Webhook receiver.")
    ntfy: NtfyReceiver | None = Field(None, description="ntfy receiver.")


# --- logs, Loki, status page, agent (observe/logfiles.py, loki.py, status*, agent.py) ---

JOB_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
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
        if value is None:
            return value
        seconds = parse_duration(value)
        if seconds is None or seconds < 1:
            raise ValueError(f"use a duration of at least 1 s: {EXAMPLES}")
        return value.strip()

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
        seconds = parse_duration(self.every)
        assert seconds is not None  # checked by _every
        return int(seconds)


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
        360, ge=10, le=1440, description="Minutes of request history kept in the state DB."
    )


# --- end of logs, Loki, status page, agent ---


class ObserveSection(Section):
    """Metrics, alerting, logs, the status page and scheduled jobs (gristops observe, logs, agent)."""

    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    slo_percent: float = Field(
        99.5,
        gt=50,
        lt=100,
        description="Availability objective: share of requests without a 5xx (%).",
    )
    rpo_seconds: int = Field(
        86400,
        ge=60,
        description="Recovery point objective: alert when the last backup is older (s).",
    )
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds)
    receivers: Receivers = Field(default_factory=Receivers)

    # logs, Loki, status page, agent
    logs: LogFilesSection = Field(default_factory=LogFilesSection)
    loki: LokiSection = Field(default_factory=LokiSection)
    agent: AgentSection = Field(default_factory=AgentSection)
    status: StatusSection = Field(default_factory=StatusSection)
