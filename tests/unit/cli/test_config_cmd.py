"""`gristops config check|sample` through the real console script entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_sample_then_check_round_trips(tmp_path: Path) -> None:
    sample = run("config", "sample")
    assert sample.returncode == 0
    path = tmp_path / "gristops.yaml"
    path.write_text(sample.stdout)
    checked = run("config", "check", "-c", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "ok (embedded .grist files" in checked.stdout


def test_check_reports_errors_in_one_line_each_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "gristops.yaml"
    path.write_text("grist: {document_id: D, typo: 1}\nserver: {port: 99999}\n")
    result = run("config", "check", "-c", str(path))
    assert result.returncode == 2
    assert "grist.typo: unknown key" in result.stderr
    assert "server.port:" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_json_warns_about_literal_secrets(tmp_path: Path) -> None:
    path = tmp_path / "gristops.yaml"
    path.write_text("grist: {base_url: 'http://127.0.0.1:9', api_key: literal, document_id: D}\n")
    result = run("config", "check", "-c", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["store"] == "grist"
    assert report["warnings"] and "grist.api_key" in report["warnings"][0]
    assert "literal" not in result.stdout.replace("written literally", "")


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("gristops ")
    helped = run("--help")
    assert helped.returncode == 0
    for verb in ("init", "serve", "config", "users"):
        assert verb in helped.stdout
