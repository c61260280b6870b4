"""GitOps metrics for Prometheus, read from the gitops_runs table at scrape time."""

from __future__ import annotations

import typing

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gristops.config import Config
from gristops.gitops.records import GitopsRuns, Outcome
from gristops.state.db import StateDB

OUTCOMES: tuple[str, ...] = typing.get_args(Outcome)


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    """Nothing until gitops is set up or has run; then passes, failures, drift and bad commits."""
    runs = GitopsRuns(state)
    last = runs.last()
    if last is None and config.gitops.repo is None:
        return []
    passes = CounterMetricFamily(
        "gristops_gitops_passes", "Reconcile passes by outcome.", labels=["outcome"]
    )
    counts = runs.counts()
    for outcome in OUTCOMES:
        passes.add_metric([outcome], float(counts.get(outcome, 0)))
    head_bad = last is not None and last.head_sha is not None and runs.is_bad(last.head_sha)
    families: list[Metric] = [
        passes,
        _gauge(
            "gristops_gitops_last_pass_timestamp_seconds",
            "When the last reconcile pass finished (0: never).",
            last.finished_at if last else 0.0,
        ),
        _gauge(
            "gristops_gitops_last_success_timestamp_seconds",
            "When a pass last ended with the desired state live (0: never).",
            runs.last_success_at() or 0.0,
        ),
        _gauge(
            "gristops_gitops_reconcile_failing",
            "1 when the last pass failed or refused its commit.",
            float(last is not None and last.outcome in ("failed", "refused")),
        ),
        _gauge(
            "gristops_gitops_drift",
            "1 when the last pass found a hand change it did not revert.",
            float(last is not None and last.outcome == "drift"),
        ),
        _gauge(
            "gristops_gitops_bad_commit",
            "1 when the branch's head is a commit whose deploy failed (not retried).",
            float(head_bad),
        ),
    ]
    applied = runs.applied()
    info = GaugeMetricFamily(
        "gristops_gitops_applied_info",
        "The commit whose state is live (value 1).",
        labels=["commit"],
    )
    if applied is not None and applied.commit_sha:
        info.add_metric([applied.commit_sha], 1.0)
    families.append(info)
    return families
