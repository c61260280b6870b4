"""Continuous replication with Litestream: plan, supervised service, status and lag, point-in-time restore."""
