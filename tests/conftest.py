"""Shared fixtures: the recorded real-Grist documents and scenarios, and the live grist-core peer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import grist_peer as peer_support
from tests.support.grist_peer import GristPeer

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


@pytest.fixture(scope="session")
def grist_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GristPeer]:
    """A live grist-core for the whole session (tests using it are marked grist_live).

    Absent peer: the tests skip with one line, or fail under GRISTOPS_REQUIRE_GRIST_PEER=1 (CI).
    """
    try:
        peer_support.peer_dir()
    except peer_support.PeerMissing as exc:
        if peer_support.required():
            pytest.fail(f"{exc}; {peer_support.REQUIRE_ENV} is set, so it must be there")
        pytest.skip(str(exc))
    with peer_support.running_peer(tmp_path_factory.mktemp("grist-peer")) as peer:
        yield peer
