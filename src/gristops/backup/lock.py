"""One backup writer per host: `run` and `prune` must not interleave.

Prune deletes chunks no manifest references; a run in progress has chunks
whose manifest is not written yet, so the two take the same lock file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gristops.errors import BackupBusy


@contextmanager
def backup_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / "backup.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupBusy(
                "another `gristops backup run` or `prune` is in progress",
                "wait for it to finish, then try again",
            ) from None
        yield
    finally:
        os.close(fd)
