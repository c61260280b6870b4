"""The Ansible roles of infra/ansible pass ansible-lint and the playbook's syntax check.

The real run of the roles is in test_ansible.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_ansible import run, tool

pytestmark = pytest.mark.integration


def test_the_roles_pass_ansible_lint_and_the_syntax_check(tmp_path: Path) -> None:
    lint = run(tool("ansible-lint"), "--offline", "--nocolor", "-q", env={"HOME": str(tmp_path)})
    assert lint.returncode == 0, lint.stdout + lint.stderr
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("gristops:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    syntax = run(tool("ansible-playbook"), "--syntax-check", "-i", str(inventory), "site.yml")
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
