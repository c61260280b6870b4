"""The Ansible roles of infra/ansible: a real run on this machine, idempotence.

Lint and syntax are checked in test_ansible_lint.py: a module of its own, so the two run
on different pytest-xdist workers.

The playbook runs with `connection: local` into a throwaway root (under
tmp_path) for a throwaway service user, and installs a wheel of this tree into
a real venv. `gristops_manage_services` is false: systemd does not run as PID 1
here, so no unit is enabled or started and no certificate is requested; the
units are checked with `systemd-analyze verify` instead. Package installs are
off too (the test machine's packages come from the Makefile), and pip installs
without compiling bytecode (the slow half of the install).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret

from tests.support.wheel import ROOT, build_wheel

pytestmark = pytest.mark.integration

PLAYBOOKS = ROOT / "infra" / "ansible"
BIN = Path(sys.executable).parent
SYSTEM_PYTHON = "/usr/bin/python3"
RECAP = re.compile(
    r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def tool(name: str) -> str:
    return shutil.which(name, path=str(BIN)) or shutil.which(name) or name


def run(
    *args: str, cwd: Path = PLAYBOOKS, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", **(env or {})},
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    """A throwaway root and service user, and the inputs of one playbook run."""

    def __init__(self, tmp_path: Path, root: Path, wheel: Path) -> None:
        self.control, self.root = tmp_path, root
        self.user = f"gt-ansible-{os.getpid()}"
        self.passphrase = secrets.token_urlsafe(24)
        self.ntfy_token = secrets.token_urlsafe(24)
        self.inventory = tmp_path / "inventory.yml"
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        self.inventory.write_text(yaml.safe_dump({"gristops": {"hosts": {"localhost": host}}}))
        self.vault_password = tmp_path / "vault-password"
        self.vault_password.write_text(secrets.token_urlsafe(16) + "\n")
        vault = VaultLib(
            [
                (
                    DEFAULT_VAULT_ID_MATCH,
                    VaultSecret(self.vault_password.read_text().strip().encode()),
                )
            ]
        )
        secrets_yaml = yaml.safe_dump(
            {
                "gristops_config_secret_files": {"backup-passphrase": self.passphrase},
                "gristops_secret_env": {"NTFY_TOKEN": self.ntfy_token},
            }
        )
        self.vault_file = tmp_path / "vault.yml"
        self.vault_file.write_bytes(vault.encrypt(secrets_yaml))
        self.config_dir = self.root / "etc" / "gristops"
        for folder in ("etc/default", "var/lib", "opt"):  # what every root file system has
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        settings = {
            "gristops_prefix": str(self.root),
            "gristops_user": self.user,
            "gristops_group": self.user,
            # The system's Python, as on a real host: the service user must be able to run
            # it (this machine's own Python may live under /root).
            "gristops_python": SYSTEM_PYTHON,
            "gristops_system_packages": [],
            "gristops_manage_services": False,
            "gristops_install_wheel": str(wheel),
            # Bytecode is compiled on first import instead: the slow half of the install.
            "gristops_install_pip_args": "--no-compile",
            "gristops_domains": ["shop.example.test"],
            "gristops_acme_email": "ops@example.test",
            "gristops_http_port": free_port(),
            "gristops_https_port": free_port(),
            "gristops_observe_packages": [],
            "gristops_schedules_gitops": {"every": "60s"},
            "gristops_observe_group": self.user,
            "gristops_config_settings": {
                "backup": {
                    "encryption": {
                        "passphrase_file": str(self.config_dir / "secrets" / "backup-passphrase")
                    }
                },
                "observe": {
                    "receivers": {
                        "ntfy": {
                            "topic_url": "https://ntfy.example.test/shop-alerts",
                            "token": "${NTFY_TOKEN}",
                        }
                    }
                },
            },
        }
        self.vars_file = tmp_path / "vars.yml"
        self.vars_file.write_text(yaml.safe_dump(settings))

    def play(self) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
        result = run(
            tool("ansible-playbook"), "-i", str(self.inventory), "site.yml",
            "-e", f"@{self.vars_file}", "-e", f"@{self.vault_file}",
            "--vault-password-file", str(self.vault_password),
            env={"ANSIBLE_LOCAL_TEMP": str(self.control / "ansible-tmp")},
        )  # fmt: skip
        found = RECAP.search(result.stdout)
        assert result.returncode == 0 and found, result.stdout[-6000:] + result.stderr[-3000:]
        names = ("ok", "changed", "unreachable", "failed")
        return result, dict(zip(names, map(int, found.groups()), strict=True))

    def as_service(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command as the units run it: the service user, with secrets.env in its environment."""
        text = (self.config_dir / "secrets.env").read_text()
        env = dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)='([^']*)'$", text, re.M))
        return run("runuser", "-u", self.user, "--", *args, cwd=self.root, env=env)

    def remove_user(self) -> None:
        subprocess.run(["userdel", self.user], check=False, capture_output=True)
        subprocess.run(["groupdel", self.user], check=False, capture_output=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    # pytest's own temporary folders are root's alone (0700): the service user could not
    # reach a root under them. This one is the test's too, and is removed after it.
    with tempfile.TemporaryDirectory(prefix="gristops-ansible-") as scratch:
        os.chmod(scratch, 0o755)  # like /: every user may enter
        site = Site(tmp_path, Path(scratch), build_wheel(tmp_path / "dist"))
        try:
            yield site
        finally:
            site.remove_user()


def mode_owner(path: Path) -> tuple[str, str, str]:
    info = path.stat()
    return (
        oct(stat.S_IMODE(info.st_mode)),
        pwd.getpwuid(info.st_uid).pw_name,
        grp.getgrgid(info.st_gid).gr_name,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="creates a system user: needs root")
def test_a_run_installs_a_checked_site_and_a_second_run_changes_nothing(site: Site) -> None:
    first, counts = site.play()
    assert counts["changed"] > 0 and counts["failed"] == 0
    # Secrets came from the vault and never show in the output.
    assert site.passphrase not in first.stdout and site.ntfy_token not in first.stdout

    again, counts = site.play()
    changed = [line for line in again.stdout.splitlines() if line.startswith("changed:")]
    assert counts["changed"] == 0, changed

    root, user, config = site.root, site.user, site.config_dir / "gristops.yaml"
    gristops = root / "opt" / "gristops" / "venv" / "bin" / "gristops"
    check = site.as_service(str(gristops), "config", "check", "--config", str(config))
    assert check.returncode == 0, check.stdout + check.stderr

    data = root / "var" / "lib" / "gristops"
    assert mode_owner(site.config_dir) == ("0o750", "root", user)
    assert mode_owner(config) == ("0o640", "root", user)
    assert mode_owner(site.config_dir / "secrets" / "backup-passphrase") == ("0o640", "root", user)
    assert (site.config_dir / "secrets" / "backup-passphrase").read_text() == site.passphrase
    assert mode_owner(site.config_dir / "secrets.env") == ("0o600", "root", "root")
    assert mode_owner(site.config_dir / "initial-admin-password") == ("0o600", "root", "root")
    assert mode_owner(data) == ("0o700", user, user)
    assert mode_owner(data / "docs" / "Shop.grist") == ("0o600", user, user)

    written = yaml.safe_load(config.read_text())
    jobs = {job["name"]: job["command"] for job in written["observe"]["agent"]["jobs"]}
    assert jobs == {
        "backup": ["backup", "run"],
        "drill": ["backup", "drill"],
        "prune": ["backup", "prune"],
        "renew": ["tls", "renew"],
        "gitops": ["gitops", "sync"],
    }
    assert written["edge"]["tls_domains"] == [["shop.example.test"]]

    # The edge: a config nginx accepted, and the certificate HTTPS starts with.
    assert "server_name shop.example.test" in (data / "edge" / "nginx.conf").read_text()
    assert (data / "tls" / "selfsigned.crt").exists()

    # Prometheus and Alertmanager: readable by their group, the ntfy token in a secret file.
    observe = site.config_dir / "observe"
    assert (observe / "prometheus" / "rules" / "gristops.rules.yaml").exists()
    assert mode_owner(observe / "alertmanager" / "alertmanager.yml") == ("0o640", "root", user)
    assert (observe / "alertmanager" / "secrets" / "ntfy_token").read_text() == site.ntfy_token
    assert "--config.file=" in (root / "etc" / "default" / "prometheus").read_text()

    units = root / "etc" / "systemd" / "system"
    names = sorted(p.name for p in units.iterdir())
    assert names == ["gristops-agent.service", "gristops-edge.service", "gristops-gateway.service"]
    verify = run(
        tool("systemd-analyze"), "verify", "--man=no", *names, cwd=units,
        env={"SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
