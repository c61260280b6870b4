"""The worker processes of one `gristops serve`: how many, and what they share.

With more than one worker, `serve` makes a run directory,
data_dir/run/gateway-<pid>/, before its pool (worker_pool.py) starts them (run
directories of stopped gateways are removed then) and names it in
GRISTOPS_RUN_DIR. Each worker finds there:

- `metrics/`: prometheus_client's multiprocess files, so that /metrics gives
  the totals of every worker whichever one answers;
- `leader.lock`: held by one worker at a time, the one that runs the jobs the
  gateway needs once, not once per worker (the store probe, the status-page
  history). When it exits the lock is free and another worker takes it over.

A single worker runs in the `serve` process itself, without a run directory:
it is its own leader and keeps its metrics in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import IO

import structlog

from gristops.config import Config
from gristops.config.model import ServerSection
from gristops.runtime import pids

log = structlog.get_logger("gristops.gateway")

# Each worker holds its own copy of the app (50-100 MB); past 8 more workers
# rarely help a single-document gateway, and a small machine runs out of memory.
MAX_DEFAULT_WORKERS = 8
RUN_DIR_ENV = "GRISTOPS_RUN_DIR"
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
LEADER_POLL_SECONDS = 2.0
_PREFIX = "gateway-"


def available_cpus() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def worker_count(server: ServerSection) -> int:
    """server.workers when set, else one per CPU, at most MAX_DEFAULT_WORKERS."""
    if server.workers is not None:
        return server.workers
    return max(1, min(available_cpus(), MAX_DEFAULT_WORKERS))


def runs_dir(config: Config) -> Path:
    """data_dir/run: run directories of gateways, and the bcrypt budget's lock files."""
    return config.data_dir.resolve() / "run"


def prepare_run_dir(config: Config) -> Path:
    """A fresh run directory for this `serve` process, named in the environment its
    workers inherit; run directories of gateways that no longer run are removed."""
    parent = runs_dir(config)
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in parent.glob(f"{_PREFIX}*"):
        owner = old.name.removeprefix(_PREFIX)
        if not owner.isdigit() or not pids.alive(int(owner)) or int(owner) == os.getpid():
            shutil.rmtree(old, ignore_errors=True)
    run_dir = parent / f"{_PREFIX}{os.getpid()}"
    (run_dir / "metrics").mkdir(mode=0o700, parents=True)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    os.environ[METRICS_ENV] = str(run_dir / "metrics")
    return run_dir


def run_dir_from_env() -> Path | None:
    """The run directory `serve` made for this worker, or None for a single worker."""
    value = os.environ.get(RUN_DIR_ENV)
    return Path(value) if value else None


def metrics_dir(run_dir: Path | None) -> Path | None:
    return None if run_dir is None else run_dir / "metrics"


class Leadership:
    """Whether this worker is the one that runs the once-per-gateway jobs."""

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self._lock: IO[bytes] | None = None

    def acquire(self) -> bool:
        """True when this worker leads (now or already); never blocks."""
        if self.run_dir is None or self._lock is not None:
            return True
        handle = (self.run_dir / "leader.lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle  # held until this process exits (or release)
        log.info("leading the gateway's shared jobs", pid=os.getpid())
        return True

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @contextlib.asynccontextmanager
    async def running(
        self,
        contexts: Iterable[AbstractAsyncContextManager[object]] = (),
        loops: Iterable[Coroutine[object, object, None]] = (),
    ) -> AsyncIterator[None]:
        """While the app runs: wait to lead, then enter `contexts` and run `loops`."""
        contexts, loops = list(contexts), list(loops)

        async def lead() -> None:
            while not self.acquire():
                await asyncio.sleep(LEADER_POLL_SECONDS)
            async with AsyncExitStack() as stack:
                for context in contexts:
                    await stack.enter_async_context(context)
                await asyncio.gather(*loops, asyncio.Event().wait())  # until cancelled

        task = asyncio.create_task(lead(), name="gristops-leader")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for loop in loops:
                loop.close()  # never started when this worker did not lead
            self.release()
