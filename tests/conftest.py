"""Shared fixtures: the recorded real-Grist documents and scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "grist"
SHOP_GRIST = FIXTURES / "docs" / "Shop.grist"


def load_scenario(name: str) -> list[dict[str, Any]]:
    """The exchanges of a recorded scenario (element 0, the header, is dropped)."""
    data: list[dict[str, Any]] = json.loads((FIXTURES / "scenarios" / f"{name}.json").read_text())
    return data[1:]


def expand_body(value: Any) -> Any:
    """A `body_template` body with each {"$repeat": s, "count": n} made the string."""
    if isinstance(value, dict):
        if set(value) == {"$repeat", "count"}:
            return value["$repeat"] * value["count"]
        return {key: expand_body(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_body(item) for item in value]
    return value


@pytest.fixture
def shop_docs(tmp_path: Path) -> Path:
    """A docs directory holding a fresh, writable copy of Shop.grist as doc id `Shop`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copyfile(SHOP_GRIST, docs / "Shop.grist")
    return docs
