"""Log files under data_dir/logs: one JSON-lines file per process, rotated by size.

Several processes may write one file (uvicorn workers all write gateway.log),
so rotation cannot be the stdlib's RotatingFileHandler, which assumes a single
writer. Here every line is one O_APPEND write, rotation happens under an
flock on `<name>.log.lock` after re-checking the size, and each writer reopens
the file when the name points at a new inode (someone else rotated it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gristops.config import Config
from gristops.errors import ConfigError

SUFFIX = ".log"
REOPEN_CHECK_S = 1.0


@dataclass(frozen=True)
class LogFile:
    """Where one process writes its log and how it is rotated."""

    path: Path
    max_bytes: int = 10 * 1024 * 1024
    keep: int = 5


def log_dir(config: Config) -> Path:
    return config.data_dir / "logs"


def log_file(config: Config, process: str) -> LogFile | None:
    """The log file of `process` (gateway, agent, ops...) per config, or None when disabled."""
    files = config.observe.logs
    if not files.enabled:
        return None
    return LogFile(log_dir(config) / f"{process}{SUFFIX}", files.max_bytes, files.keep)


def rotated_files(path: Path) -> list[Path]:
    """`path` and its rotated predecessors that exist, oldest first (name.log.N ... name.log)."""
    older = []
    for candidate in path.parent.glob(f"{path.name}.*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            older.append((int(suffix), candidate))
    ordered = [p for _, p in sorted(older, reverse=True)]
    return [*ordered, path] if path.exists() else ordered


def service_of(path: Path) -> str:
    """The service a log file belongs to: gateway.log -> gateway, nginx-access.log -> nginx."""
    name = path.name
    stem = name[: name.index(SUFFIX)] if SUFFIX in name else name
    return stem.split("-", 1)[0]


class SharedRotatingFileHandler(logging.Handler):
    """Append formatted records to a file that several processes share; rotate by size."""

    def __init__(self, target: LogFile) -> None:
        self.target = target
        self._fd = -1
        self._write_lock = threading.Lock()
        self._checked = 0.0  # when the name was last compared with the open file
        self._unchecked = 0  # bytes written since the file's size was last read
        try:
            target.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._open()
        except OSError as exc:
            raise ConfigError(
                f"cannot write the log file {target.path}: {exc.strerror}",
                f"make {target.path.parent} a writable directory, "
                "or turn log files off (observe.logs.enabled: false)",
            ) from None
        # Registered with logging (closed at exit) only once the file is open.
        super().__init__()

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.target.path, flags, 0o640)

    def _reopen_if_rotated(self) -> None:
        # At most once a second: a path lookup per line is a measurable share of a cached
        # read's cost, and the lines of that second land in the rotated file, not lost.
        now = time.monotonic()
        if now - self._checked < REOPEN_CHECK_S:
            return
        self._checked = now
        try:
            current = os.stat(self.target.path).st_ino
        except FileNotFoundError:
            current = -1
        if current != os.fstat(self._fd).st_ino:
            self._open()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line((self.format(record) + "\n").encode("utf-8", errors="replace"))
        except Exception:
            self.handleError(record)

    def write_line(self, data: bytes) -> None:
        """Append one rendered line (newline included) in one write; rotate past max_bytes."""
        with self._write_lock:
            self._reopen_if_rotated()
            os.write(self._fd, data)
            # The size is read back once a 64th of max_bytes is written here, not per line
            # (other writers grow the file too, so it may pass max_bytes by that much each).
            self._unchecked += len(data)
            if self._unchecked >= self.target.max_bytes >> 6:
                self._unchecked = 0
                if os.fstat(self._fd).st_size > self.target.max_bytes:
                    self._rotate()

    def _rotate(self) -> None:
        path = self.target.path
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                # Another process may have rotated while this one waited for the lock.
                if os.stat(path).st_ino != os.fstat(self._fd).st_ino:
                    return
                if os.stat(path).st_size <= self.target.max_bytes:
                    return
                keep = self.target.keep
                for n in range(keep, 0, -1):
                    older = Path(f"{path}.{n}")
                    if n == keep:
                        older.unlink(missing_ok=True)
                    elif older.exists():
                        older.rename(f"{path}.{n + 1}")
                if keep:
                    path.rename(f"{path}.1")
                else:
                    path.unlink()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
                self._open()

    def close(self) -> None:
        with self._write_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        super().close()
