"""Open the configured store: the one module that knows every implementation."""

from __future__ import annotations

from gristops.config import Config
from gristops.store.base import Store
from gristops.store.metrics import StoreMetrics


def open_store(config: Config, metrics: StoreMetrics | None = None) -> Store:
    """The embedded GristFileStore; GristServerStore when grist.base_url is set;
    HybridStore when grist.docs_dir is set beside it."""
    if config.embedded:
        from gristops.store.file.store import GristFileStore

        return GristFileStore(config.docs_dir, metrics=metrics)
    if config.hybrid:
        from gristops.store.hybrid.store import HybridStore

        return HybridStore(config.grist, config.grist_api_key(), metrics=metrics)
    from gristops.store.server.store import GristServerStore

    return GristServerStore(config.grist, config.grist_api_key(), metrics=metrics)
