"""Chaos experiments: Chaos Toolkit JSON, and the probes and actions they call."""
