"""Backup gauges for Prometheus, read from the backup catalog at scrape time."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from gristops.backup.catalog import Catalog
from gristops.backup.configured_archives import target_names
from gristops.config import Config
from gristops.state.db import StateDB


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    catalog = Catalog(state)
    success = GaugeMetricFamily(
        "gristops_backup_last_success_timestamp_seconds",
        "When a backup run last stored a snapshot on the target (0: never).",
        labels=["target"],
    )
    runs = catalog.last_success("run")
    for name in target_names(config):
        success.add_metric([name], runs.get(name, 0.0))
    families: list[Metric] = [success]

    def gauge(name: str, doc: str, value: float) -> None:
        families.append(GaugeMetricFamily(name, doc, value=value))

    gauge(
        "gristops_backup_last_verified_timestamp_seconds",
        "When a snapshot last passed `gristops backup verify` (0: never).",
        max(catalog.last_success("verify").values(), default=0.0),
    )
    gauge(
        "gristops_backup_last_drill_timestamp_seconds",
        "When a restore drill last succeeded (0: never).",
        max(catalog.last_success("drill").values(), default=0.0),
    )
    drill = catalog.last("drill")
    gauge(
        "gristops_backup_last_drill_success",
        "1 when the latest restore drill succeeded, else 0.",
        1.0 if drill is not None and drill.ok else 0.0,
    )
    gauge(
        "gristops_backup_drill_duration_seconds",
        "Wall time of the latest restore drill: the measured recovery time.",
        drill.finished_at - drill.started_at if drill is not None else 0.0,
    )
    gauge(
        "gristops_backup_snapshot_bytes",
        "Size of the latest snapshot's content (bytes of the files it holds).",
        float(catalog.latest_snapshot_size() or 0),
    )
    return families
