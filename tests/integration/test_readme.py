"""The README's "Try it" runs as written after `pip install .` and prints what it shows.

Each `$ ` line (with its continuation lines) is run by one bash in an empty
directory; the lines after it are its expected output. The one change: port
8484 becomes a free port (the gateway's `--port` and the URLs), so the test
never meets another server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway_harness import free_port

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def try_it() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of the README's "Try it" block."""
    section = README.read_text(encoding="utf-8").split("## Try it", 1)[1]
    block = section.split("```", 2)[1].strip("\n").splitlines()
    steps: list[tuple[str, list[str]]] = []
    continued = False
    for line in block:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif continued:
            steps[-1] = (f"{steps[-1][0]}\n{line}", steps[-1][1])
        else:
            steps[-1][1].append(line)
        continued = line.endswith("\\")
    return steps


def test_try_it_runs_as_written_with_the_output_shown(tmp_path: Path) -> None:
    steps = try_it()
    assert steps[0][0].startswith("PASSWORD=$(gristops init")  # init runs once, here
    port = str(free_port())
    marker = "::gristops-readme-step::"
    script = [
        "set -e",
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
    ]  # serve never outlives it
    for command, _ in steps:
        command = command.replace("gristops serve ", f"gristops serve --port {port} ")
        script += [f"echo '{marker}'", command.replace("8484", port)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.split(f"{marker}\n")[1:]
    assert len(outputs) == len(steps)
    for (command, expected), output in zip(steps, outputs, strict=True):
        assert output.splitlines() == expected, command
    assert re.search(
        r"gristops gateway on http://127\.0\.0\.1:\d+", (tmp_path / "serve.log").read_text()
    )
