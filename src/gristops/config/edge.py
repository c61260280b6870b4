"""The `edge:` section of gristops.yaml."""

from __future__ import annotations

from gristops.config.section import Section


class EdgeSection(Section):
    """The nginx edge and TLS certificates (gristops edge, tls)."""
