"""TLS gauges for the ops collector: when each certificate expires and how long it lives.

An alert on expiry minus now below a fraction of the lifetime works for
6-day and 64-day certificates alike, hence the lifetime gauge.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from gristops.config import Config
from gristops.edge.tls.status import certificate_status
from gristops.state.db import StateDB


def metric_families(config: Config, state: StateDB) -> list[Metric]:
    expiry = GaugeMetricFamily(
        "gristops_tls_certificate_expiry_timestamp_seconds",
        "When the certificate stops being valid (notAfter), Unix time.",
        labels=["domain"],
    )
    lifetime = GaugeMetricFamily(
        "gristops_tls_certificate_lifetime_seconds",
        "The certificate's whole validity period (notAfter - notBefore).",
        labels=["domain"],
    )
    for cert in certificate_status(config, state):
        if cert.info is None:
            continue
        expiry.add_metric([cert.name], cert.info.not_after.timestamp())
        lifetime.add_metric([cert.name], cert.info.lifetime.total_seconds())
    return [expiry, lifetime]
