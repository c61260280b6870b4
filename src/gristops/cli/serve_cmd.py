"""`gristops serve`: run the gateway with uvicorn's factory mode."""

from __future__ import annotations

import typer


def serve() -> None:
    """Run the gateway (not yet implemented)."""
    raise typer.Exit(1)
