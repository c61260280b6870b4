"""Replacing files atomically: all of the new content with its mode, or the old file untouched."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gristops.files import write_atomic


def test_the_new_content_replaces_the_old_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_text("old")
    old_umask = os.umask(0)  # a permissive umask must not widen the file, even briefly
    try:
        write_atomic(target, b"new secret", 0o600)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new secret"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]  # no temporary left


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 kB tmpfs (mounting needs root, as CI runs)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_leaves_the_old_file_whole_and_no_temporary(full_disk: Path) -> None:
    target = full_disk / "status.json"
    write_atomic(target, '{"ok": true}')
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"x" * 1024 * 1024)
    assert target.read_text() == '{"ok": true}'
    assert [p.name for p in full_disk.iterdir()] == ["status.json"]
