"""`gristops serve` refuses half of a deploy slot's options in one line, before binding."""

from __future__ import annotations

import subprocess
import sys


def test_a_shared_socket_without_its_slot_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gristops", "serve", "--shared-fd", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "error: --shared-fd and --slot-dir go together" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
