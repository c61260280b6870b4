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


RULES = """\
data_dir: data
grist: {document_id: Shop}
roles:
  admin: {"*": [read, create, update, delete]}
  user:
    Orderz: [read]
    Orders:
      actions: [read, create]
      rows: {any: [{rec: user, user: id}, {rec: owner, user: ward}, {rec: note, user: password_hash}]}
      hidden: [cost]
      readonly: [note]
      fill: [total]
"""


def test_check_reports_every_rule_problem_against_the_document(tmp_path: Path) -> None:
    from tests.conftest import SHOP_GRIST

    (tmp_path / "data" / "docs").mkdir(parents=True)
    (tmp_path / "data" / "docs" / "Shop.grist").write_bytes(SHOP_GRIST.read_bytes())
    path = tmp_path / "gristops.yaml"
    path.write_text(RULES)
    result = run("config", "check", "-c", str(path))
    # fill needs a pinned column: refused while loading, before the document is read.
    assert result.returncode == 2 and "fill: 'total' is not set by `rows`" in result.stderr
    path.write_text(RULES.replace("fill: [total]", "fill: []"))
    result = run("config", "check", "-c", str(path))
    assert result.returncode == 2, result.stdout
    for problem in (
        "roles.user.Orderz: the document has no table 'Orderz'",
        "roles.user.Orders.rows: table 'Orders' has no column 'owner'",
        "roles.user.Orders.hidden: table 'Orders' has no column 'cost'",
        "roles.user.Orders.rows: user.ward is not a field of the users table 'Users'",
        "roles.user.Orders.rows: user.password_hash is not a field",
    ):
        assert problem in result.stderr
    assert "Traceback" not in result.stderr
    path.write_text(RULES.replace("fill: [total]", "").replace("Orderz", "Products")
                    .replace("rows: {any", "rows: {all").replace(", {rec: owner, user: ward}", "")
                    .replace(", {rec: note, user: password_hash}", ", {rec: note, user: email}")
                    .replace("[cost]", "[total]"))  # fmt: skip
    ok = run("config", "check", "-c", str(path), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rules_checked"] is True


def test_check_without_the_document_warns_that_rules_were_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "gristops.yaml"
    path.write_text("data_dir: data\ngrist: {document_id: Missing}\n")
    result = run("config", "check", "-c", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rules_checked"] is False
    assert "not checked against the document" in report["warnings"][-1]
