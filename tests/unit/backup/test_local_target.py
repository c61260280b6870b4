"""LocalTarget: atomic, private blobs in a directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gristops.backup.targets import Target
from gristops.backup.targets.local import LocalTarget
from gristops.errors import BlobNotFound, TargetError


def test_round_trip_lists_and_deletes(tmp_path: Path) -> None:
    target = LocalTarget("t", tmp_path / "archive")
    assert isinstance(target, Target)
    target.put("chunks/ab/abc", b"one")
    target.put("snapshots/x.manifest", b"two")
    assert target.get("chunks/ab/abc") == b"one"
    assert target.list() == ["chunks/ab/abc", "snapshots/x.manifest"]
    assert target.list("snapshots/") == ["snapshots/x.manifest"]
    target.put("chunks/ab/abc", b"replaced")
    assert target.get("chunks/ab/abc") == b"replaced"
    target.delete("chunks/ab/abc")
    target.delete("chunks/ab/abc")  # already gone: fine
    assert not target.exists("chunks/ab/abc")
    with pytest.raises(BlobNotFound):
        target.get("chunks/ab/abc")


def test_files_are_private(tmp_path: Path) -> None:
    target = LocalTarget("t", tmp_path / "archive")
    target.put("chunks/ab/abc", b"secret")
    assert stat.S_IMODE((tmp_path / "archive/chunks/ab/abc").stat().st_mode) == 0o600
    for d in ("archive", "archive/chunks", "archive/chunks/ab"):
        assert stat.S_IMODE((tmp_path / d).stat().st_mode) == 0o700


def test_a_half_written_blob_never_lists(tmp_path: Path) -> None:
    target = LocalTarget("t", tmp_path)
    target.put("snapshots/a.manifest", b"x")
    (tmp_path / "snapshots" / ".tmp-0123456789abcdef").write_bytes(b"half")
    assert target.list() == ["snapshots/a.manifest"]


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", ".hidden", "a/.tmp-x", ""])
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(TargetError, match="invalid backup key"):
        LocalTarget("t", tmp_path).put(key, b"x")
