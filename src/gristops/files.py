"""Replacing a file so that a crash or a full disk never leaves half of it.

The new content goes to a temporary file beside the target, created with its
final mode (never wider, even briefly), is flushed to disk, and takes the
target's name with one rename; the folder is then synced so the rename itself
survives a power cut. Readers see the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def sync_dir(directory: Path) -> None:
    """Make the renames and creations in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    """`data` in a new temporary file beside `path`, with `mode`, on disk; returns its path."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as sink:
            sink.write(raw)
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def publish(tmp: Path, path: Path) -> None:
    """Give the staged file `tmp` the name `path` in one step, durably."""
    os.replace(tmp, path)
    sync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace `path` with `data` (mode `mode`): all of it or, after a failure, the old file."""
    publish(stage(path, data, mode), path)
