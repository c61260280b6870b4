"""`gristops install systemd`: hardened units that systemd accepts."""

from __future__ import annotations

import configparser
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gristops.cli import install_cmd
from gristops.cli.main import app
from gristops.errors import GristopsError

CONFIG = """\
data_dir: /srv/gristops/data
grist: {document_id: Shop}
server: {port: 443}
observe:
  agent:
    jobs:
      - {name: backup, command: [backup, run], at: ["03:30"], days: [mon, thu]}
      - {name: prune, command: [backup, prune], every: 6h, timeout: 600}
"""


def install(tmp_path: Path, *args: str) -> dict[str, configparser.RawConfigParser]:
    config = tmp_path / "gristops.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "units"
    result = CliRunner().invoke(
        app,
        [
            "install",
            "systemd",
            "-c",
            str(config),
            "--out",
            str(out),
            "--exec",
            shutil.which("true") or "/bin/true",
            "--user",
            "root",
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    units = {}
    for path in sorted(out.iterdir()):
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        units[path.name] = parser
    verify(out)
    return units


def verify(directory: Path) -> None:
    """systemd's own check when it is installed (the units are parsed above either way)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    names = sorted(p.name for p in directory.iterdir())
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_agent_mode_writes_a_hardened_gateway_and_agent_service(tmp_path: Path) -> None:
    units = install(tmp_path)
    assert set(units) == {"gristops-gateway.service", "gristops-agent.service"}
    agent = units["gristops-agent.service"]["Service"]
    assert " agent --config " in agent["ExecStart"]
    assert agent["NoNewPrivileges"] == "yes"
    assert agent["ProtectSystem"] == "strict"
    assert agent["ReadWritePaths"] == "/srv/gristops/data"
    assert agent["CapabilityBoundingSet"] == ""
    gateway = units["gristops-gateway.service"]["Service"]
    # Port 443 needs exactly one capability, nothing more.
    assert gateway["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"


def test_timers_mode_writes_one_timer_per_job_on_its_schedule(tmp_path: Path) -> None:
    units = install(tmp_path, "--mode", "timers")
    assert "gristops-agent.service" not in units
    backup = units["gristops-job-backup.timer"]["Timer"]
    assert backup["OnCalendar"] == "Mon,Thu *-*-* 03:30:00"
    assert backup["Persistent"] == "true"
    assert units["gristops-job-prune.timer"]["Timer"]["OnUnitActiveSec"] == "21600s"
    service = units["gristops-job-prune.service"]["Service"]
    assert service["Type"] == "oneshot"
    assert " agent --job prune " in service["ExecStart"]


def test_the_edge_unit_runs_nginx_through_gristops_with_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("S3_ACCESS_KEY_ID=x\n")
    units = install(tmp_path, "--edge", "--environment-file", str(secrets))
    edge = units["gristops-edge.service"]["Service"]
    assert edge["Type"] == "forking"
    assert edge["PIDFile"] == "/srv/gristops/data/edge/nginx.pid"
    assert " edge start --config " in edge["ExecStart"]
    assert " edge reload --config " in edge["ExecReload"]
    # Ports 80 and 443 need exactly one capability.
    assert edge["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    for unit in units.values():
        assert unit["Service"]["EnvironmentFile"] == str(secrets)


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "gristops.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(
        app, ["install", "systemd", "-c", str(config), "--out", str(tmp_path), "--mode", "cron"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, GristopsError)
    assert "--mode" in result.exception.message


def _install_for(tmp_path: Path, user: str) -> tuple[Path, str]:
    """Units for a config whose data_dir exists under tmp_path; (data_dir, output)."""
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "Shop.grist").write_bytes(b"")
    config = tmp_path / "gristops.yaml"
    config.write_text(CONFIG.replace("/srv/gristops/data", str(data)))
    result = CliRunner().invoke(
        app,
        ["install", "systemd", "-c", str(config), "--out", str(tmp_path / "units"),
         "--exec", shutil.which("true") or "/bin/true", "--user", user],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return data, result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create users and chown")
def test_as_root_the_service_user_is_created_and_owns_data(tmp_path: Path) -> None:
    user = f"gristops-t{os.getpid()}"
    try:
        data, output = _install_for(tmp_path, user)
        account = pwd.getpwnam(user)
        assert f"created the system user {user}" in output
        assert account.pw_shell == "/usr/sbin/nologin"
        owned = [p.stat().st_uid for p in (data, *data.rglob("*"))]
        assert owned == [account.pw_uid] * 3
        assert f"now belongs to {user} (3 files and directories)" in output
    finally:
        subprocess.run(["userdel", user], check=False, capture_output=True)


def test_without_root_it_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not root here is a stand-in: os.geteuid answers 1000, as for a person's account."""
    monkeypatch.setattr(install_cmd.os, "geteuid", lambda: 1000)
    data, output = _install_for(tmp_path, "gristops-no-such-user")
    assert "next: sudo useradd --system --user-group" in output
    assert f"next: sudo chown -R gristops-no-such-user: {data}" in output
    _, output = _install_for(tmp_path / "again", "nobody")
    assert "next: sudo chown -R nobody:" in output
