"""`gristops init`: a config that validates, a document with every type and one admin."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import bcrypt
import pytest

from gristops.cli.init_sample import sample_config, sample_tables
from gristops.cli.main import main
from gristops.config import load_config, parse_config


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run the real `gristops` entry point in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr("sys.argv", ["gristops", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def initialized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, str]]:
    code, out, err = run(monkeypatch, capsys, "init", "--dir", str(tmp_path / "site"), "--json")
    assert code == 0, err
    return tmp_path / "site", json.loads(out)


def test_init_writes_a_valid_config_and_a_private_document(
    initialized: tuple[Path, dict[str, str]],
) -> None:
    site, report = initialized
    config = load_config(site / "gristops.yaml")
    assert config.embedded
    assert config.grist.document_id == "Shop"
    doc = config.docs_dir / "Shop.grist"
    assert report["document"] == str(site / "data" / "docs" / "Shop.grist")
    assert report["next"] == f"gristops serve -c {site / 'gristops.yaml'}"
    for path, mode in (
        (site / "gristops.yaml", 0o600),
        (doc, 0o600),
        (config.data_dir, 0o700),
        (config.docs_dir, 0o700),
    ):
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, path


def test_the_admin_logs_in_with_the_printed_password(
    initialized: tuple[Path, dict[str, str]],
) -> None:
    site, report = initialized
    with closing(sqlite3.connect(site / "data" / "docs" / "Shop.grist")) as conn:
        rows = conn.execute("SELECT email, password_hash, role, active FROM Users").fetchall()
    assert len(rows) == 1
    email, password_hash, role, active = rows[0]
    assert (
        (email, role, active)
        == ("admin@example.com", "admin", 1)
        == (report["admin_email"], "admin", 1)
    )
    assert password_hash.startswith("$2b$12$")
    assert bcrypt.checkpw(report["admin_password"].encode(), password_hash.encode())
    assert len(report["admin_password"]) >= 16


def test_each_init_makes_a_new_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passwords = set()
    for name in ("a", "b"):
        code, out, _ = run(monkeypatch, capsys, "init", "--dir", str(tmp_path / name), "--json")
        assert code == 0
        passwords.add(json.loads(out)["admin_password"])
    assert len(passwords) == 2


def test_text_output_names_files_next_step_and_password_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    code, out, _ = run(
        monkeypatch,
        capsys,
        "init",
        "--dir",
        str(site),
        "--doc-id",
        "Store-1",
        "--admin-email",
        "boss@shop.test",
    )
    assert code == 0
    assert f"wrote {site / 'gristops.yaml'}" in out
    assert f"wrote {site / 'data' / 'docs' / 'Store-1.grist'}" in out
    assert "admin user: boss@shop.test" in out
    assert f"next: gristops serve -c {site / 'gristops.yaml'}" in out
    assert out.count("password") == 1
    assert load_config(site / "gristops.yaml").grist.document_id == "Store-1"


def test_init_refuses_to_overwrite_without_force(
    initialized: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site, _ = initialized
    doc = site / "data" / "docs" / "Shop.grist"
    before = doc.read_bytes(), (site / "gristops.yaml").read_bytes()
    code, out, err = run(monkeypatch, capsys, "init", "--dir", str(site))
    assert code == 1
    assert out == ""
    assert "already exists" in err and "--force" in err
    assert (doc.read_bytes(), (site / "gristops.yaml").read_bytes()) == before

    (site / "gristops.yaml").unlink()  # the document alone is protected too
    code, _, err = run(monkeypatch, capsys, "init", "--dir", str(site))
    assert code == 1 and "Shop.grist already exists" in err
    assert doc.read_bytes() == before[0]


def test_force_replaces_both_with_a_new_admin_password(
    initialized: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site, report = initialized
    code, out, err = run(monkeypatch, capsys, "init", "--dir", str(site), "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["admin_password"] != report["admin_password"]
    assert stat.S_IMODE(os.stat(site / "gristops.yaml").st_mode) == 0o600
    assert sorted(os.listdir(site / "data" / "docs")) == ["Shop.grist"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--doc-id", "../etc", "not a valid document id"),
        ("--admin-email", "admin", "not an email address"),
    ],
)
def test_bad_options_are_refused_before_writing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    code, _, err = run(monkeypatch, capsys, "init", "--dir", str(tmp_path / "site"), option, value)
    assert code == 2
    assert message in err and "hint:" in err
    assert not (tmp_path / "site").exists()


def test_sample_uses_every_type_and_matches_its_config() -> None:
    tables = sample_tables("a@b.test", "$2b$12$" + "x" * 53)
    types = {c.type.partition(":")[0] for t in tables for c in t.columns}
    expected = {
        "Text",
        "Numeric",
        "Int",
        "Bool",
        "Date",
        "DateTime",
        "Choice",
        "ChoiceList",
        "Ref",
        "RefList",
    }
    assert expected <= types
    config = parse_config(sample_config("Shop"))
    users = next(t for t in tables if t.table_id == config.auth.users_table)
    schema = config.auth.users_table_schema
    fields = {schema.email_field, schema.password_field, schema.role_field, schema.active_field}
    assert fields <= {c.col_id for c in users.columns}
    roles = next(c for c in users.columns if c.col_id == schema.role_field).choices
    assert set(roles) == set(config.roles)
    table_ids = {t.table_id for t in tables}
    for role, permissions in config.roles.items():
        assert set(permissions) - {"*"} <= table_ids, role
        if role != "admin":  # password hashes stay with admins
            assert config.auth.users_table not in permissions and "*" not in permissions
