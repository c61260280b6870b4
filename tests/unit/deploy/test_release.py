"""Releases: a wheel or a directory; identity by content."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from gristops.deploy.release import load_release
from gristops.errors import BadRequest


def wheel(directory: Path, body: str = "x = 1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gristops-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("gristops/__init__.py", body)
    return path


def test_same_content_same_id_and_different_content_another(tmp_path: Path) -> None:
    a = load_release(wheel(tmp_path / "a"))
    b = load_release(wheel(tmp_path / "b"))
    c = load_release(wheel(tmp_path / "c", "x = 2\n"))
    assert a.id == b.id and a.id.startswith("1.2.3-")
    assert c.id != a.id


def test_directory_with_web_bundle_and_commit_time(tmp_path: Path) -> None:
    wheel(tmp_path)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<html></html>")
    (tmp_path / "release.json").write_text(
        json.dumps({"commit": "abc123", "commit_time": "2026-05-01T12:00:00+00:00"})
    )
    release = load_release(tmp_path)
    assert release.web == tmp_path / "web"
    assert release.commit == "abc123" and release.commit_time == 1777636800.0
    (tmp_path / "web" / "index.html").write_text("<html>changed</html>")
    assert load_release(tmp_path).id != release.id


def test_not_a_release(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="neither a wheel"):
        load_release(tmp_path / "missing")
    (tmp_path / "two").mkdir()
    wheel(tmp_path / "two")
    (tmp_path / "two" / "other-1.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(BadRequest, match="2 wheels"):
        load_release(tmp_path / "two")
