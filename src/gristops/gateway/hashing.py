"""One bcrypt budget for the whole machine: all cores but one, shared by every gateway worker.

A password check takes a core for about a quarter of a second. Each worker
limiting itself to "all cores but one" would let N workers take them all, so
a login storm would starve the reads. Instead every check holds one of
`size` lock files in data_dir/run/ (flock, released by the kernel even when a
worker dies), so at most `size` checks run at once across all workers and
both deploy slots; the rest wait their turn.
"""

from __future__ import annotations

import fcntl
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


def machine_budget(cpus: int) -> int:
    """Concurrent bcrypt checks allowed on a machine with `cpus` CPUs: all but one."""
    return max(1, cpus - 1)


class HashingBudget:
    """At most `size` bcrypt checks at once among all processes sharing `lock_dir`."""

    def __init__(self, lock_dir: Path, size: int) -> None:
        self.lock_dir = lock_dir
        self.size = size
        self._limiter: anyio.CapacityLimiter | None = None

    @contextmanager
    def _slot(self) -> Iterator[None]:
        """Hold one of the budget's lock files: a free one if any, else wait for one."""
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths = [self.lock_dir / f"bcrypt-{i}.lock" for i in range(self.size)]
        random.shuffle(paths)
        handle = _try_each(paths)
        if handle is None:
            handle = _open(paths[0])
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks this thread only
        try:
            yield
        finally:
            handle.close()  # closing the file releases its lock

    def _within(self, func: Callable[[], T]) -> T:
        with self._slot():
            return func()

    async def run(self, func: Callable[[], T]) -> T:
        """Run blocking `func` (a bcrypt check) in a thread once the budget allows it."""
        if self._limiter is None:  # a limiter belongs to the running event loop
            # No more threads of this worker wait for a slot than could ever hold one.
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(self._within, func, limiter=self._limiter)


def _open(path: Path) -> IO[bytes]:
    """A new open file (locks are per open file, so never share one between threads)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def _try_each(paths: list[Path]) -> IO[bytes] | None:
    for path in paths:
        handle = _open(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return handle
    return None
