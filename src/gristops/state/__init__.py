"""The state DB (SQLite by default): sessions, login throttling, audit, and later catalogs."""

from gristops.state.db import StateDB

__all__ = ["StateDB"]
