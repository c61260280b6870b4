"""`gristops users add|passwd|disable`: manage rows of the users table."""

from __future__ import annotations

import typer

app = typer.Typer(help="Manage users (bcrypt hashes in the users table).", no_args_is_help=True)
