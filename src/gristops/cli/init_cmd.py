"""`gristops init`: a working sample document and config."""

from __future__ import annotations

import typer


def init() -> None:
    """Write a sample .grist document and gristops.yaml (not yet implemented)."""
    raise typer.Exit(1)
