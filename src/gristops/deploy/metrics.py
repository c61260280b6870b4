"""Deploy metrics for the gateway's /metrics, computed from the state DB at scrape time."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gristops.config import Config
from gristops.deploy.records import DeployRecords
from gristops.state.db import StateDB

OUTCOMES = ("success", "rolled_back", "failed")


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    with state.reading() as db:
        counts = dict(
            db.execute(
                "SELECT outcome, count(*) FROM deploy_history "
                "WHERE kind = 'deploy' AND outcome IS NOT NULL GROUP BY outcome"
            ).fetchall()
        )
        last = db.execute("SELECT max(finished_at) FROM deploy_history").fetchone()[0]
    deploys = CounterMetricFamily(
        "gristops_deploys", "Deploys by outcome (success, rolled_back, failed).", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        deploys.add_metric([outcome], float(counts.get(outcome, 0)))
    families: list[Metric] = [deploys]
    if last is not None:
        families.append(
            GaugeMetricFamily(
                "gristops_deploy_last_timestamp_seconds",
                "When the last deploy or rollback finished (Unix time).",
                value=float(last),
            )
        )
    active = GaugeMetricFamily(
        "gristops_deploy_active_slot_info",
        "The slot serving traffic and its release (value 1).",
        labels=["slot", "release"],
    )
    current = DeployRecords(state).active()
    if current is not None:
        active.add_metric([current.slot, current.release_id], 1.0)
    families.append(active)
    return families
