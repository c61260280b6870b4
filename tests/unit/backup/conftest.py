"""A gristops install under tmp_path with the Shop document, and helpers to damage an archive."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from gristops.backup.archive import Archive
from gristops.backup.configured_archives import open_archive
from gristops.backup.crypto import Keys
from gristops.config import Config, load_config
from gristops.state.db import StateDB
from tests.conftest import SHOP_GRIST


def make_config(root: Path, backup_yaml: str = "") -> Config:
    docs = root / "data" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    if not (docs / "Shop.grist").exists():
        shutil.copyfile(SHOP_GRIST, docs / "Shop.grist")
    path = root / "gristops.yaml"
    path.write_text(f"data_dir: data\ngrist: {{document_id: Shop}}\n{backup_yaml}")
    return load_config(path)


def archive_of(config: Config, name: str = "local") -> Archive:
    return open_archive(config, Keys.from_config(config.backup), name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def state(config: Config) -> StateDB:
    db = StateDB(config.state_path)
    yield db  # type: ignore[misc]
    db.close()
