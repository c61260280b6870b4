"""An edge config for tests: nginx on 127.0.0.1 and free ports, its files under `data_dir`."""

from __future__ import annotations

from pathlib import Path

from gristops.config import Config
from tests.gateway_harness import free_port


def loopback_edge(data_dir: Path, **edge: object) -> Config:
    """The Shop document's config with an edge on loopback; `edge` adds or overrides keys."""
    return Config.model_validate(
        {
            "data_dir": str(data_dir),
            "grist": {"document_id": "Shop"},
            "edge": {
                "listen_address": "127.0.0.1",
                "http_port": free_port(),
                "https_port": free_port(),
                "worker_user": "root",  # the tests run as root: workers read tmp_path
                **edge,
            },
        }
    )
