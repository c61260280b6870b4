"""The Grist-server store: a real Grist server over its REST API (pooled client, limiter, breaker)."""
