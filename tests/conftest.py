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

# Fixtures shared by modules that need them: `browser` (headless Chromium).
pytest_plugins = ["tests.support.chromium", "tests.support.postgres"]

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


_PEER_MISSING: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the grist-core peer (and outside CI), its tests are left out with one line."""
    live = [item for item in items if item.get_closest_marker("grist_live")]
    if not live or peer_support.required():
        return
    try:
        peer_support.peer_dir()
    except peer_support.PeerMissing as exc:
        _PEER_MISSING.append(f"SKIPPED {len(live)} grist_live tests: {exc}")
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if item not in live]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _PEER_MISSING:
        terminalreporter.write_line(line, yellow=True)


@pytest.fixture(scope="session")
def grist_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GristPeer]:
    """A live grist-core for the whole session (tests using it are marked grist_live).

    Absent peer: the tests are left out with one line (pytest_collection_modifyitems), or
    fail under GRISTOPS_REQUIRE_GRIST_PEER=1 (CI). Tests using it must be marked grist_live.
    """
    try:
        peer_support.peer_dir()
    except peer_support.PeerMissing as exc:
        pytest.fail(f"{exc}; {peer_support.REQUIRE_ENV} is set, so it must be there")
    with peer_support.running_peer(tmp_path_factory.mktemp("grist-peer")) as peer:
        yield peer
