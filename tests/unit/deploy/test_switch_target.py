"""Where nginx sends traffic: `gristops serve` before any deploy, then the slots' shared
socket, with the live release's web bundle behind one link swapped in a rename."""

from __future__ import annotations

from pathlib import Path

from gristops.config import Config
from gristops.deploy.records import DeployRecords
from gristops.deploy.release import Release
from gristops.deploy.switch import _link_web, current_target, web_link
from gristops.state.db import StateDB


def test_the_target_moves_from_serve_to_the_shared_socket(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"data_dir": str(tmp_path), "grist": {"document_id": "Shop"}, "deploy": {"port": 8700}}
    )
    state = StateDB(tmp_path / "state.db")
    assert current_target(config, state) == (config.server.port, None)
    records = DeployRecords(state)
    records.installed("blue", Release("1.0-1", "1.0", Path("x.whl"), None, None, None), None)
    records.activate("blue")
    assert current_target(config, state) == (8700, None)  # a release without a web app
    for bundle in ("one", "two"):
        (tmp_path / bundle).mkdir()
        (tmp_path / bundle / "index.html").write_text(bundle)
        assert _link_web(config, tmp_path / bundle) == web_link(config)
        assert current_target(config, state) == (8700, web_link(config))
        assert (web_link(config) / "index.html").read_text() == bundle
    assert _link_web(config, None) is None  # the next release has none
    assert current_target(config, state) == (8700, None)
