"""What every backup target must do, checked against a real one (S3, rclone, local)."""

from __future__ import annotations

import os

import pytest

from gristops.backup.targets.base import Target
from gristops.errors import BlobNotFound


def check_round_trip(target: Target) -> None:
    """Put, get, overwrite, exists, list by prefix, delete: as a backup run uses them."""
    chunk = os.urandom(200_000)
    target.put("chunks/ab/ab12", chunk)
    target.put("chunks/cd/cd34", b"second")
    target.put("snapshots/s1.manifest", b"{}")
    assert target.get("chunks/ab/ab12") == chunk
    target.put("snapshots/s1.manifest", b'{"v": 2}')
    assert target.get("snapshots/s1.manifest") == b'{"v": 2}'
    assert target.exists("chunks/cd/cd34")
    assert not target.exists("chunks/cd/nothing")
    assert target.list("chunks/") == ["chunks/ab/ab12", "chunks/cd/cd34"]
    assert target.list("chunks/a") == ["chunks/ab/ab12"]
    assert target.list("nothing/") == []
    assert target.list() == ["chunks/ab/ab12", "chunks/cd/cd34", "snapshots/s1.manifest"]
    target.delete("chunks/cd/cd34")
    target.delete("chunks/cd/cd34")  # already gone: no error
    assert target.list("chunks/") == ["chunks/ab/ab12"]
    with pytest.raises(BlobNotFound) as missing:
        target.get("chunks/cd/cd34")
    assert target.name in str(missing.value)
