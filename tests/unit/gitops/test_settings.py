"""The gitops: section: names and folders checked, relative files taken from the config's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.config import parse_config
from gristops.errors import ConfigError

BASE = "grist: {document_id: Shop}\n"


def test_relative_files_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    text = BASE + "gitops: {repo: ../infra, allowed_signers: keys/signers, wheelhouse: wheels}\n"
    gitops = parse_config(text, str(tmp_path / "gristops.yaml"), tmp_path).gitops
    assert gitops.allowed_signers == tmp_path / "keys" / "signers"
    assert gitops.wheelhouse == tmp_path / "wheels"
    assert gitops.repo == "../infra"  # resolved when fetched: it may be a URL


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{branch: '-x'}", "gitops.branch: Value error, use letters"),
        ("{environment: 'a b'}", "gitops.environment: Value error, use letters"),
        ("{path: ../up}", "gitops.path: Value error, must be a relative folder"),
        ("{path: /abs}", "gitops.path: Value error, must be a relative folder"),
        ("{interval: 1}", "gitops.interval: Input should be greater than or equal to 5"),
    ],
)
def test_mistakes_are_refused(section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE + f"gitops: {section}\n")


def test_a_folder_inside_the_repository_loses_its_slashes() -> None:
    assert parse_config(BASE + "gitops: {path: deploy/shop/}\n").gitops.path == "deploy/shop"
