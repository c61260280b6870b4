"""Scheduled operations: the `gristops agent` runner, its jobs and schedules, its metrics, systemd units."""
