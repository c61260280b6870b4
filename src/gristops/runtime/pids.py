"""Processes known by a pid file: is it alive, its children, stop it and wait.

Used for programs that outlive the command that started them (nginx's
daemonized master, a deploy slot's supervisor). A zombie counts as gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from gristops.files import write_atomic


def alive(pid: int) -> bool:
    """True while `pid` runs (an unreaped zombie is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # Field 3, after the parenthesised command name (which may hold spaces).
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def read_pid(path: Path) -> int | None:
    """The pid in `path` while that process runs, else None."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def write_pid(path: Path, pid: int) -> None:
    write_atomic(path, f"{pid}\n", 0o644)


def children(pid: int) -> set[int]:
    """The direct children of `pid` (empty when unknown)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(part) for part in text.split()}


def stop(pid: int, sig: int, timeout: float) -> bool:
    """Send `sig` and wait for the exit; SIGKILL after `timeout`. True if it exited by itself."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return True
            return False
        time.sleep(0.02)
    return True


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of process group `pgid`: a program started in its own session
    (runtime/process.py) and the children it left behind, such as the workers of a
    killed `serve` process, which would otherwise go on holding its port."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
