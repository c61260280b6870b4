"""The `deploy:` section of gristops.yaml."""

from __future__ import annotations

from gristops.config.section import Section


class DeploySection(Section):
    """Blue-green deploys of the gateway (gristops deploy, dora)."""
