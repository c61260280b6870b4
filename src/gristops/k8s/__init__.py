"""Kubernetes manifests of the gateway fleet, rendered from gristops.yaml (gristops k8s)."""
