"""Chaos Toolkit actions: the faults, and the rollbacks that undo them.

Each fault takes `after` (seconds to wait first), so an experiment starts it
in the background and its traffic probe sees the service before, during and
after. A process is named by its pid file, as a supervisor writes it. Every
rollback is safe to run when its fault never happened (or already ended).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from gristops.config import load_config
from gristops.runtime import pids, process

FILLER = ".gristops-chaos-fill"
FILL_CHUNK = 1 << 20
SLOTS = ("blue", "green")
DEPLOY_TIMEOUT = 600.0


def _pid(pid_file: str) -> int:
    pid = pids.read_pid(Path(pid_file))
    if pid is None:
        raise ActivityFailed(f"no running process in {pid_file}; start the service first")
    return pid


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing left to signal
        os.kill(pid, sig)


def kill_process(pid_file: str, after: float = 0.0) -> dict[str, int]:
    """kill -9 the process in `pid_file` after `after` seconds."""
    time.sleep(after)
    pid = _pid(pid_file)
    _signal(pid, signal.SIGKILL)
    return {"killed": pid}


def hang_process(pid_file: str, seconds: float, after: float = 0.0) -> dict[str, int]:
    """SIGSTOP the process for `seconds`, then SIGCONT: it hangs without dying."""
    time.sleep(after)
    pid = _pid(pid_file)
    _signal(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        _signal(pid, signal.SIGCONT)
    return {"hung": pid}


def slow_process(
    pid_file: str, seconds: float, stopped_ms: float, running_ms: float, after: float = 0.0
) -> dict[str, int]:
    """Stop and continue the process in a cycle for `seconds`: a request waits for the next
    running slice, which adds about half a stopped slice to its latency (more when it needs
    several slices)."""
    time.sleep(after)
    pid = _pid(pid_file)
    cycles = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            _signal(pid, signal.SIGSTOP)
            time.sleep(stopped_ms / 1000)
            _signal(pid, signal.SIGCONT)
            time.sleep(running_ms / 1000)
            cycles += 1
    finally:
        _signal(pid, signal.SIGCONT)
    return {"cycles": cycles}


def continue_process(pid_file: str) -> None:
    """Rollback: SIGCONT the process (a no-op when it runs or is gone)."""
    pid = pids.read_pid(Path(pid_file))
    if pid is not None:
        _signal(pid, signal.SIGCONT)


def _answers(url: str, verify: bool = True) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def start_service(
    command: str,
    ready_url: str,
    after: float = 0.0,
    timeout: float = 120.0,
    verify: bool = True,
) -> dict[str, float]:
    """Run `command` (it starts the service and returns) unless `ready_url` answers 200,
    then wait until it does. As a rollback: the service is back whatever happened.

    The service answering is what counts: a start script whose own check gave up
    too early (exit status not 0) while the service came up is not a failure.
    `verify` False: `ready_url` is our own nginx, whose certificate may be self-signed.
    """
    time.sleep(after)
    started = time.monotonic()
    output = ""
    if not _answers(ready_url, verify):
        done = process.run(shlex.split(command), timeout=timeout, check=False)
        output = (done.stderr or done.stdout).strip()[-300:]
    deadline = started + timeout
    while not _answers(ready_url, verify):
        if time.monotonic() > deadline:
            raise ActivityFailed(
                f"{ready_url} did not answer within {timeout:g} s of `{command}`: {output}"
            )
        time.sleep(0.1)
    return {"seconds_to_ready": round(time.monotonic() - started, 2)}


def fill_disk(folder: str, seconds: float, after: float = 0.0) -> dict[str, int]:
    """Fill the filesystem of `folder` (a size-limited tmpfs) until writes fail with ENOSPC,
    keep it full for `seconds`, then free the space."""
    time.sleep(after)
    written = 0
    chunk = b"\0" * FILL_CHUNK
    try:
        with (Path(folder) / FILLER).open("wb", buffering=0) as handle:
            size = FILL_CHUNK
            while size:  # down to the last byte: halve the write at each ENOSPC
                try:
                    written += handle.write(chunk[:size]) or 0
                except OSError:
                    size //= 2
            time.sleep(seconds)
    finally:
        free_disk(folder)
    return {"filled_bytes": written}


def free_disk(folder: str) -> None:
    """Rollback: remove the filler file (a no-op when it is not there)."""
    with contextlib.suppress(FileNotFoundError):
        (Path(folder) / FILLER).unlink()


def stress_cpu(workers: int, seconds: float, pid_file: str, after: float = 0.0) -> dict[str, int]:
    """stress-ng (Debian's) on `workers` CPUs for `seconds`; its pid in `pid_file` meanwhile."""
    time.sleep(after)
    args = [process.find_program("stress-ng"), "--cpu", str(workers), "--timeout", f"{seconds:g}s"]
    stress = process.Service("stress-ng", args, log_path=Path(pid_file).with_suffix(".log"))
    stress.start()
    pids.write_pid(Path(pid_file), stress.pid or 0)
    try:
        if stress.process is not None:
            stress.process.wait(seconds + 30)
    finally:
        stress.stop()
        Path(pid_file).unlink(missing_ok=True)
    return {"workers": workers}


def stop_process(pid_file: str) -> None:
    """Rollback: stop the process in `pid_file` (SIGTERM, SIGKILL after 5 s) if it runs."""
    pid = pids.read_pid(Path(pid_file))
    if pid is not None:
        pids.stop(pid, signal.SIGTERM, 5.0)


def _live_pid(slot_root: Path) -> int | None:
    """The pid of the slot's gateway when it says it accepts traffic ("PID on"), else None."""
    try:
        said = (slot_root / "accepting").read_text().split()
    except FileNotFoundError:
        return None
    if said[1:] != ["on"] or pids.read_pid(slot_root / "serve.pid") != int(said[0]):
        return None
    return int(said[0])


def _deploy_result(stdout: str) -> dict[str, Any] | None:
    """The deploy's --json result among what it printed (its log lines may come first)."""
    decoder = json.JSONDecoder()
    found = None
    for start in (i for i, line in enumerate(stdout.splitlines(keepends=True)) if line[:1] == "{"):
        text = "".join(stdout.splitlines(keepends=True)[start:])
        with contextlib.suppress(ValueError):
            value, _ = decoder.raw_decode(text)
            if isinstance(value, dict) and "outcome" in value:
                found = value
    return found


def deploy_and_kill_new_slot(
    config: str, release: str, kill_after: float = 0.0, after: float = 0.0
) -> dict[str, object]:
    """Deploy `release` (`gristops deploy release`, blue-green) and kill -9 the new slot's
    gateway `kill_after` seconds after traffic switched to it, inside the deploy's watch
    window. Succeeds only when the deploy reports it switched traffic back.

    The slots are found as the deploy keeps them (this package sits beside gristops.deploy,
    so it reads their files): `data_dir`/deploy/SLOT, where the gateway that accepts
    traffic writes "PID on" to its `accepting` file.
    """
    time.sleep(after)
    args = [sys.executable, "-m", "gristops", "deploy", "release", release]
    args += ["--config", config, "--json"]
    slots_dir = load_config(Path(config)).data_dir.resolve() / "deploy"
    before = {slot: _live_pid(slots_dir / slot) for slot in SLOTS}
    # Our own CLI, no shell; its output is the result (process.run would wait for the end).
    deploy = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603  # nosec B603
    killed: tuple[str, int] | None = None
    deadline = time.monotonic() + DEPLOY_TIMEOUT
    while killed is None and deploy.poll() is None and time.monotonic() < deadline:
        for slot in SLOTS:
            pid = _live_pid(slots_dir / slot)
            if pid is not None and pid != before[slot]:
                time.sleep(kill_after)
                _signal(pid, signal.SIGKILL)
                killed = (slot, pid)
        time.sleep(0.01)
    try:
        stdout, stderr = deploy.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        deploy.kill()
        raise ActivityFailed(f"the deploy of {release} did not end within the timeout") from None
    if killed is None:
        raise ActivityFailed(f"traffic never switched to the new slot: {stderr.strip()[-300:]}")
    result = _deploy_result(stdout)
    if result is None:
        raise ActivityFailed(f"the deploy printed no result: {stderr.strip()[-300:]}")
    if result.get("outcome") != "rolled_back":
        raise ActivityFailed(
            f"the deploy ended {result.get('outcome')} after its {killed[0]} slot's gateway "
            f"was killed, not rolled_back: {result.get('reason')}"
        )
    return {"killed": killed[1], "slot": killed[0], "outcome": result["outcome"],
            "reason": result.get("reason")}  # fmt: skip
