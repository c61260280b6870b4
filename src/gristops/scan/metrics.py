"""Scan gauges for Prometheus, read from the last recorded scan at scrape time."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from gristops.config import Config
from gristops.scan.findings import Severity
from gristops.scan.records import ScanRecords
from gristops.state.db import StateDB


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    run = ScanRecords(state).last()
    findings = GaugeMetricFamily(
        "gristops_scan_findings",
        "Findings of the last `gristops scan`, per severity (absent before the first scan).",
        labels=["severity"],
    )
    last = GaugeMetricFamily(
        "gristops_scan_last_run_timestamp_seconds",
        "When `gristops scan` last finished (0: never).",
        value=run.finished_at if run else 0.0,
    )
    if run is not None:
        for severity in Severity:
            findings.add_metric([severity.label], run.counts.get(severity.label, 0))
    return [findings, last]
