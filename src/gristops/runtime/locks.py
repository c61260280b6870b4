"""A lock one process at a time holds: an flock, which the kernel drops when its holder dies."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gristops.errors import GristopsError


@contextmanager
def held(path: Path, busy: GristopsError) -> Iterator[None]:
    """Hold the lock file `path` for the block; raise `busy` at once if another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
