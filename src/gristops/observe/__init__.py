"""Metrics, logging, status."""
