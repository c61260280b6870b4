"""Metrics primitives, logging, log reading and shipping, and the Prometheus/Alertmanager/Grafana render."""
