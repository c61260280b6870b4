"""What a backup target is: a flat store of named blobs.

A key is a `/`-separated path of safe segments (letters, digits, `.`, `_`, `-`,
never starting with `.`), e.g. `chunks/ab/ab12...` or `snapshots/<id>.manifest`.
`put` is atomic: a reader (and `list`) sees either nothing or the whole blob,
even if the writing process is killed mid-way. Targets raise only the errors
below, so a backup run can tell "this target is full/unreachable" apart from
a bug.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from gristops.errors import TargetError

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    """`key` itself when it is a safe target key, else a TargetError."""
    if len(key) > 512 or not _KEY.match(key):
        raise TargetError(
            f"invalid backup key {key!r}",
            "keys are '/'-separated segments of letters, digits, '.', '_', '-'",
        )
    return key


@runtime_checkable
class Target(Protocol):
    """A place snapshots are written to: a directory, an S3 bucket, an rclone remote."""

    @property
    def name(self) -> str:
        """The target's name in `backup.targets` (used in messages and metrics)."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically, replacing any previous blob."""
        ...

    def get(self, key: str) -> bytes:
        """The blob under `key`; BlobNotFound when there is none."""
        ...

    def exists(self, key: str) -> bool:
        """True when a (complete) blob is stored under `key`."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every complete key starting with `prefix`, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob under `key`; no error when it is already gone."""
        ...
