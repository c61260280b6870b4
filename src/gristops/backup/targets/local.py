"""A backup target in a local directory: files 0600, directories 0700.

A blob is written to a hidden temporary file beside its final name, then
renamed into place: a killed writer leaves at most a hidden `.tmp-*` file,
which `list` never shows and a later `list` cleans up. Chunks are not fsynced
one by one (that doubled the time of a backup); a snapshot's manifest is the
commit record, so before a `snapshots/` blob is written everything is synced,
and the manifest itself is fsynced with its directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from pathlib import Path

from gristops.backup.targets.base import check_key
from gristops.config.backup import LocalTargetConfig
from gristops.errors import BlobNotFound, TargetError, TargetFull

_TMP = ".tmp-"
_COMMIT_PREFIX = "snapshots/"
# A temporary file older than this belongs to a writer that died.
_STALE_TMP_SECONDS = 3600


class LocalTarget:
    """Blobs as files under `root`."""

    def __init__(self, name: str, root: Path) -> None:
        self._name = name
        self.root = root

    @property
    def name(self) -> str:
        return self._name

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _error(self, what: str, key: str, exc: OSError) -> TargetError:
        where = f"backup target {self._name!r} ({self.root})"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return TargetFull(
                f"{where}: no space left while writing {key}",
                "free space or move the target; older snapshots are intact",
            )
        return TargetError(
            f"{where}: cannot {what} {key}: {exc.strerror or exc}",
            "check that the directory exists, is writable and is on a mounted disk",
        )

    def _makedirs(self, directory: Path) -> None:
        missing = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for d in reversed(missing):
            try:
                d.mkdir(mode=0o700)
            except FileExistsError:
                continue

    @staticmethod
    def _fsync(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _sync_all() -> None:
        """Every earlier blob on disk before the manifest that references them."""
        os.sync()

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.parent / f"{_TMP}{secrets.token_hex(8)}"
        durable = key.startswith(_COMMIT_PREFIX)
        try:
            self._makedirs(path.parent)
            if durable:
                self._sync_all()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            if durable:
                self._fsync(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):  # the directory itself may be unusable
                tmp.unlink(missing_ok=True)
            raise self._error("write", key, exc) from None

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(
                f"backup target {self._name!r}: {key} does not exist",
                "run `gristops backup list` to see what the target holds",
            ) from None
        except OSError as exc:
            raise self._error("read", key, exc) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        now = time.time()
        try:
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                for f in filenames:
                    if f.startswith(_TMP):
                        self._drop_stale(Path(dirpath) / f, now)
                        continue
                    if f.startswith("."):
                        continue
                    key = f if rel == "." else f"{rel}/{f}"
                    if key.startswith(prefix):
                        keys.append(key)
        except OSError as exc:
            raise self._error("list", prefix or "/", exc) from None
        return sorted(keys)

    def _drop_stale(self, path: Path, now: float) -> None:
        try:
            if now - path.stat().st_mtime > _STALE_TMP_SECONDS:
                path.unlink()
        except OSError:
            pass  # another process removed or renamed it: nothing to clean

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("delete", key, exc) from None


def create(name: str, config: LocalTargetConfig, data_dir: Path) -> LocalTarget:
    """The LocalTarget for `config`; a relative path is taken from `data_dir`."""
    root = config.path if config.path.is_absolute() else data_dir / config.path
    return LocalTarget(name, root)
