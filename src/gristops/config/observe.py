"""The `observe:` section of gristops.yaml."""

from __future__ import annotations

from gristops.config.section import Section


class ObserveSection(Section):
    """Metrics, alerting, logs, the status page and scheduled jobs (gristops observe, logs, agent)."""
