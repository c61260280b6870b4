"""The ops areas whose gauges the gateway's /metrics carries, registered by `create_app`."""

from __future__ import annotations

from gristops.agent import metrics as agent_metrics
from gristops.backup import metrics as backup_metrics
from gristops.backup.replication import metrics as replication_metrics
from gristops.deploy import metrics as deploy_metrics
from gristops.edge.tls import metrics as tls_metrics
from gristops.gitops import metrics as gitops_metrics
from gristops.observe.collector import MetricSource
from gristops.scan import metrics as scan_metrics

OPS_AREAS: dict[str, MetricSource] = {
    "backup": backup_metrics.metric_families,
    "replication": replication_metrics.metric_families,
    "tls": tls_metrics.metric_families,
    "deploy": deploy_metrics.metric_families,
    "agent": agent_metrics.metric_families,
    "scan": scan_metrics.metric_families,
    "gitops": gitops_metrics.metric_families,
}
