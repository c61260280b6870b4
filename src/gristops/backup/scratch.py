"""Scratch directories under data_dir/backup-work: same disk as the documents, so a
verified restore can be renamed into place, and cleaned up after a killed run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(root: Path) -> None:
    for entry in root.iterdir() if root.is_dir() else []:
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def scratch_dir(data_dir: Path, purpose: str, base: Path | None = None) -> Iterator[Path]:
    """A private directory removed on exit; leftovers of dead processes are removed first."""
    root = base if base is not None else data_dir / "backup-work"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _clean_stale(root)
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{purpose}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
