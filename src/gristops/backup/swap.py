"""Put a verified file in place of a live SQLite document without serving half of it.

The new file is first renamed to a hidden name in the document's directory
(same filesystem), then, under an exclusive SQLite lock on the live document:
the live file gets a second name, `<doc>.grist.pre-restore` (a hard link: the
old content, instantly), and the new file is renamed over the live name.
Readers and writers of the live file wait for the lock, then either finish
on the old inode or reopen by path and see the new file; the rename is
atomic, so no one ever sees a partly written document.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from pathlib import Path

from gristops.errors import SwapError
from gristops.files import sync_dir

LOCK_TIMEOUT_SECONDS = 30.0
PRE_RESTORE = ".pre-restore"


def _stage(new: Path, live: Path, mode: int) -> Path:
    staged = live.parent / f".{live.name}.restore-{secrets.token_hex(4)}"
    try:
        os.rename(new, staged)
    except OSError:  # another filesystem: copy, then make it durable
        shutil.copyfile(new, staged)
        with staged.open("rb+") as f:
            os.fsync(f.fileno())
    os.chmod(staged, mode)
    return staged


def swap_into_place(new: Path, live: Path, mode: int = 0o600) -> Path | None:
    """Replace `live` by `new`; the previous file's path (`*.pre-restore`), if there was one."""
    staged = _stage(new, live, mode)
    pre = live.with_name(live.name + PRE_RESTORE)
    try:
        if not live.exists():
            os.replace(staged, live)
            sync_dir(live.parent)
            return None
        conn = sqlite3.connect(live, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
        try:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(journal).lower() == "wal":
                # Fold the WAL into the file so the pre-restore link holds every commit.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("BEGIN EXCLUSIVE")
            pre.unlink(missing_ok=True)
            os.link(live, pre)
            os.replace(staged, live)
            sync_dir(live.parent)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        staged.unlink(missing_ok=True)
        raise SwapError(
            f"cannot put the restored {live.name} in place: {exc}",
            "the live document is unchanged; stop the writers (or the gateway) and retry",
        ) from None
    return pre
