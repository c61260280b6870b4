"""Replication gauges for the gateway's /metrics, read from what `gristops replicate` recorded."""

from __future__ import annotations

import time

from prometheus_client.core import GaugeMetricFamily, Metric

from gristops.backup.replication.status import read_status
from gristops.config import Config
from gristops.state.db import StateDB


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    """`gristops_replication_lag_seconds{db}`; nothing when replication never ran here.

    The state DB is not needed: the replicate service records its checks in
    data_dir/replication/status.json, which costs a scrape one small read.
    """
    del state
    status = read_status(config)
    if status is None:
        return []
    lag = GaugeMetricFamily(
        "gristops_replication_lag_seconds",
        "Seconds the oldest change not yet in the replica has waited "
        "(counted from the newest replicated change when replication is not running).",
        labels=["db"],
    )
    now = time.time()
    for db in status.databases:
        lag.add_metric([db.name], status.lag(db, now))
    return [lag]
