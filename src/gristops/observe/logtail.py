"""Follow the log files under data_dir/logs across rotation (`gristops logs --follow`, Loki).

A file is tracked by inode and offset. When `name.log` points at a new inode
the writer rotated it: the rest of the old inode is read from `name.log.1`
(or wherever it went), then the new file from its start, so no line is lost
or read twice. Positions can be saved and restored (the Loki shipper resumes
where it stopped).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gristops.files import write_atomic
from gristops.observe.logfiles import rotated_files
from gristops.observe.logread import log_sets

MAX_READ = 4 * 1024 * 1024  # bytes per file per poll: one huge file does not starve the rest


@dataclass
class Position:
    inode: int
    offset: int


class LogTailer:
    """New complete lines of every log file under `directory`, poll by poll."""

    def __init__(
        self,
        directory: Path,
        positions: dict[str, Position] | None = None,
        from_start: bool = False,
    ) -> None:
        self.directory = directory
        self.positions: dict[str, Position] = dict(positions or {})
        if not from_start:
            for path in log_sets(directory):
                self.positions.setdefault(str(path), _end_of(path))

    def poll(self) -> list[tuple[str, str]]:
        """(service, line) for each line written since the last poll, in file order."""
        lines: list[tuple[str, str]] = []
        for path, service in log_sets(self.directory).items():
            lines.extend((service, line) for line in self._read(path))
        return lines

    def _read(self, path: Path) -> list[str]:
        key = str(path)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        position = self.positions.get(key)
        if position is None:
            # A file that appeared after we started: all of it is new.
            position = Position(current, 0)
        lines: list[str] = []
        if position.inode != current:
            old = _find_inode(path, position.inode)
            if old is not None:
                lines.extend(_read_from(old, position))
            position = Position(current, 0)
        if current != -1:
            lines.extend(_read_from(path, position))
        self.positions[key] = position
        return lines

    def save(self, file: Path) -> None:
        data = {k: [p.inode, p.offset] for k, p in self.positions.items()}
        write_atomic(file, json.dumps(data))

    @staticmethod
    def load(file: Path) -> dict[str, Position]:
        """Saved positions, or none if the file is missing or unreadable."""
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            return {str(k): Position(int(v[0]), int(v[1])) for k, v in data.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return {}


def _end_of(path: Path) -> Position:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Position(-1, 0)
    return Position(st.st_ino, st.st_size)


def _find_inode(path: Path, inode: int) -> Path | None:
    for candidate in reversed(rotated_files(path)):
        try:
            if os.stat(candidate).st_ino == inode:
                return candidate
        except FileNotFoundError:
            continue
    return None


def _read_from(path: Path, position: Position) -> list[str]:
    """Complete lines from position.offset on; advances position past them."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size < position.offset:
                position.offset = 0  # truncated in place (copytruncate): start over
            handle.seek(position.offset)
            chunk = handle.read(MAX_READ)
    except FileNotFoundError:
        return []
    end = chunk.rfind(b"\n")
    if end < 0:
        return []  # a line still being written
    position.offset += end + 1
    return [
        line.decode("utf-8", errors="replace")
        for line in chunk[: end + 1].splitlines()
        if line.strip()
    ]
