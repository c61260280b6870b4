"""The `backup:` section of gristops.yaml."""

from __future__ import annotations

from gristops.config.section import Section


class BackupSection(Section):
    """Backups, restore drills and continuous replication (gristops backup, replicate)."""
