"""A GristFileStore on a fresh copy of Shop.grist, and a digest to prove nothing was written."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gristops.store.file.store import GristFileStore

DOC = "Shop"


@pytest.fixture
async def store(shop_docs: Path) -> AsyncIterator[GristFileStore]:
    store = GristFileStore(shop_docs)
    yield store
    await store.aclose()


def digest(shop_docs: Path) -> str:
    """The document file's sha256: equal before and after means nothing was written."""
    return hashlib.sha256((shop_docs / f"{DOC}.grist").read_bytes()).hexdigest()
