"""Open the configured store: the one module that knows both implementations."""

from __future__ import annotations

from gristops.config import Config
from gristops.store.base import Store
from gristops.store.metrics import StoreMetrics


def open_store(config: Config, metrics: StoreMetrics | None = None) -> Store:
    """The embedded GristFileStore, or GristServerStore when grist.base_url is set."""
    if config.embedded:
        from gristops.store.file.store import GristFileStore

        return GristFileStore(config.docs_dir, metrics=metrics)
    from gristops.store.server.store import GristServerStore

    return GristServerStore(config.grist, config.grist_api_key(), metrics=metrics)
