"""Rendering one environment from base + overlay files, and the errors a person sees."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from gristops.errors import ReconcileFailed
from gristops.gitops.render import Renderer, deep_merge

SHA = "c0ffee" * 6 + "c0ff"  # a commit id, 40 hex digits


def wheel(directory: Path, version: str = "1.2.3") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"gristops-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("gristops/__init__.py", f"v = {version!r}\n")
    return path


def write(root: Path, files: dict[str, Any]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return root


def render(root: Path, environment: str | None = "staging", wheelhouse: Path | None = None) -> Any:
    machine = {"repo": "https://git.example/shop.git"}
    return Renderer(root, SHA, path="", environment=environment).render(machine, wheelhouse)


def test_mappings_merge_and_every_other_value_replaces() -> None:
    base = {"server": {"port": 1, "cors_origins": ["a", "b"]}, "log": {"level": "info"}, "x": 1}
    overlay = {"server": {"cors_origins": ["c"]}, "log": None, "y": {"z": 2}}
    assert deep_merge(base, overlay) == {
        "server": {"port": 1, "cors_origins": ["c"]},
        "log": None,
        "x": 1,
        "y": {"z": 2},
    }
    assert base["server"] == {"port": 1, "cors_origins": ["a", "b"]}  # inputs untouched


def test_overlay_config_merges_and_its_release_replaces_the_base_one(tmp_path: Path) -> None:
    base_wheel, staging_wheel = wheel(tmp_path / "w1"), wheel(tmp_path / "w2", "2.0.0")
    root = write(
        tmp_path / "repo",
        {
            "base/gristops.yaml": {"grist": {"document_id": "Shop"}, "server": {"port": 8484}},
            "base/release.yaml": {"path": str(base_wheel)},
            "overlays/staging/gristops.yaml": {"server": {"workers": 2}},
            "overlays/staging/release.yaml": {"path": str(staging_wheel)},
        },
    )
    desired = render(root)
    assert desired.config == {
        "grist": {"document_id": "Shop"},
        "server": {"port": 8484, "workers": 2},
        "gitops": {"repo": "https://git.example/shop.git"},
    }
    assert desired.release.version == "2.0.0"
    assert desired.sources[-1] == "overlays/staging/release.yaml"
    assert render(root, environment=None).release.version == "1.2.3"


def test_a_version_is_found_in_the_wheelhouse_and_a_path_stays_in_the_repo(
    tmp_path: Path,
) -> None:
    house = tmp_path / "house"
    wheel(house, "3.1.0")
    root = write(
        tmp_path / "repo",
        {"base/gristops.yaml": {}, "base/release.yaml": {"version": "3.1.0"}},
    )
    assert render(root, None, house).release.version == "3.1.0"
    with pytest.raises(ReconcileFailed, match=r"needs gitops\.wheelhouse"):
        render(root, None)
    write(root, {"base/release.yaml": {"version": "9.9.9"}})
    with pytest.raises(ReconcileFailed, match=r"0 wheels gristops-9\.9\.9"):
        render(root, None, house)
    write(root, {"base/release.yaml": {"path": "../outside.whl"}})
    with pytest.raises(ReconcileFailed, match="leads out of the repository"):
        render(root, None)
    write(root, {"base/release.yaml": {"path": "r.whl", "version": "1"}})
    with pytest.raises(ReconcileFailed, match="exactly one of version and path"):
        render(root, None)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"overlays/staging/gristops.yaml": "server:\n  port: [1\n"},
            r"overlays/staging/gristops.yaml at c0ffeec0ffee: line 3 column 1: not valid YAML",
        ),
        ({"overlays/staging/gristops.yaml": "- a list\n"}, "top level must be a mapping"),
        (
            {"overlays/staging/gristops.yaml": {"gitops": {"revert_drift": True}}},
            "gitops: is this machine's own setting",
        ),
        ({"overlays/other/gristops.yaml": {}}, "has no folder overlays/staging/"),
        (
            {"overlays/staging/gristops.yaml": {}, "base/release.yaml": None},
            "names no release",
        ),
    ],
)
def test_mistakes_name_the_file_and_commit(
    tmp_path: Path, files: dict[str, Any], message: str
) -> None:
    root = write(
        tmp_path / "repo",
        {"base/gristops.yaml": {}, "base/release.yaml": {"path": str(wheel(tmp_path / "w"))}},
    )
    for rel, data in files.items():
        if data is None:
            (root / rel).unlink()
        else:
            write(root, {rel: data})
    with pytest.raises(ReconcileFailed, match=message):
        render(root)
