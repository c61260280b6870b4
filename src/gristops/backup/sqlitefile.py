"""SQLite files in a backup: a consistent copy of a live file, and its health report.

The copy goes through SQLite's online backup API, so it is a committed state
of the database even while the gateway (or Litestream) writes to it; copying
the file bytes could catch a write half-done.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gristops.errors import SqliteCopyError

_SQLITE_HEADER = b"SQLite format 3\x00"
# Writers wait at most this long for the copy's read lock (and we for theirs).
BUSY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SqliteReport:
    """`PRAGMA integrity_check` and the row count of every user table."""

    integrity: str
    tables: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"integrity": self.integrity, "tables": dict(self.tables)}


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except OSError:
        return False


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def copy_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of the live database `source` at `dest` (online backup API)."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            dst = sqlite3.connect(dest)
            try:
                # One step: a read lock for the whole copy, so concurrent writes never
                # restart it; writers wait (busy timeout) for a fraction of a second.
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise SqliteCopyError(
            f"cannot copy the SQLite database {source}: {exc}",
            "check that the file is a readable SQLite database and the disk has space",
        ) from None


def inspect_sqlite(path: Path) -> SqliteReport:
    """Integrity and row counts of the (quiescent) database at `path`."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        return SqliteReport(f"cannot open: {exc}", {})
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        integrity = "; ".join(str(r[0]) for r in rows[:20])
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        # Names come from sqlite_master of this very file, quoted as identifiers.
        tables = {
            n: int(conn.execute(f"SELECT count(*) FROM {_quote(n)}").fetchone()[0])  # noqa: S608
            for n in names
        }
        return SqliteReport(integrity, tables)
    except sqlite3.DatabaseError as exc:
        return SqliteReport(f"not readable: {exc}", {})
    finally:
        conn.close()
