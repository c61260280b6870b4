"""`gristops users ...` (add, passwd, disable, enable, set-role, delete, unlock, list) via the CLI.

The users table is the in-memory stand-in of tests/unit/gateway/test_auth_double.py
(put in place of the configured store); the real stores are tested on their own.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gristops.cli import users_cmd
from gristops.cli.main import app, main
from gristops.config import load_config
from gristops.gateway.auth import email_digest
from gristops.gateway.lockout import LoginThrottle
from gristops.gateway.passwords import check_password
from gristops.state.db import StateDB
from gristops.state.sessions import RefreshSessions
from gristops.state.throttle import LoginFailures
from tests.unit.gateway.test_auth_double import MemoryUsers

CONFIG = """\
data_dir: data
grist: {document_id: Shop}
auth: {bcrypt_rounds: 10}
roles:
  admin: {"*": [read, create, update, delete]}
  user: {Products: [read]}
"""


@pytest.fixture
def users(monkeypatch: pytest.MonkeyPatch) -> MemoryUsers:
    table = MemoryUsers()
    monkeypatch.setattr(users_cmd, "open_store", lambda config: table)
    return table


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gristops.yaml"
    path.write_text(CONFIG)
    return path


def gristops(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """Run `gristops ARGS` as the console script does; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["gristops", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def row_of(users: MemoryUsers, email: str) -> tuple[int, dict[str, object]]:
    [(row_id, fields)] = [(i, f) for i, f in users.rows.items() if f["email"] == email]
    return row_id, fields


def session_of(config: Path, user_id: int) -> RefreshSessions:
    """A live login of `user_id` in the state DB the gateway would use."""
    sessions = RefreshSessions(StateDB(load_config(config).state_path))
    sessions.start(f"fam-{user_id}", user_id, f"tok-{user_id}", now=0, expires_at=4e9)
    return sessions


def test_add_generates_a_password_shown_once_and_stores_only_its_hash(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "add", "new@shop.test", "--role", "user", "-c", str(config)
    )
    assert code == 0
    password = out.split("password (shown only now): ")[1].strip()
    row_id, fields = row_of(users, "new@shop.test")
    assert f"added user {row_id}" in out
    assert fields["role"] == "user" and fields["active"] is True
    stored = str(fields["password_hash"])
    assert stored.startswith("$2b$10$")
    assert password not in stored and check_password(password, stored)


def test_add_reads_a_password_from_stdin_and_answers_json(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = gristops(
        monkeypatch,
        capsys,
        "users",
        "add",
        "piped@shop.test",
        "-r",
        "admin",
        "--password-stdin",
        "--json",
        "-c",
        str(config),
        stdin="piped-secret-1\n",
    )
    assert code == 0
    answer = json.loads(out)
    assert answer == {"id": 7, "email": "piped@shop.test", "role": "admin", "password": None}
    assert check_password("piped-secret-1", str(users.rows[7]["password_hash"]))


@pytest.mark.parametrize(
    ("args", "stdin", "message", "hint"),
    [
        (["new@shop.test", "-r", "auditor"], "", "unknown role 'auditor'", "admin, user"),
        (["CAROL.mixed@shop.test", "-r", "user"], "", "already exists (row 5)", "passwd"),
        (
            ["weak@shop.test", "-r", "user", "--password-stdin"],
            "short\n",
            "too short",
            "generate",
        ),
        (["not-an-email", "-r", "user"], "", "is not an email address", "e.g."),
        (
            ["empty@shop.test", "-r", "user", "--password-stdin"],
            "\n",
            "no password on stdin",
            "pipe",
        ),
    ],
)
def test_add_refuses_with_one_line_and_a_hint(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    stdin: str,
    message: str,
    hint: str,
) -> None:
    before = dict(users.rows)
    code, _, err = gristops(
        monkeypatch, capsys, "users", "add", *args, "-c", str(config), stdin=stdin
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert message in lines[0] and lines[0].startswith("error:")
    assert hint in lines[1] and lines[1].startswith("hint:")
    assert "Traceback" not in err
    assert users.rows == before


def test_passwd_from_stdin_changes_the_hash_and_ends_the_users_logins(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sessions = session_of(config, 3)
    code, out, _ = gristops(
        monkeypatch,
        capsys,
        "users",
        "passwd",
        "Alice@Shop.Test",
        "--password-stdin",
        "-c",
        str(config),
        stdin="alice-new-pass\n",
    )
    assert code == 0, out
    assert "1 login(s) ended" in out
    assert check_password("alice-new-pass", str(users.rows[3]["password_hash"]))
    assert sessions.rotate("tok-3", "next", now=1, expires_at=4e9).status == "revoked"


def test_passwd_prompts_twice(users: MemoryUsers, config: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["users", "passwd", "dave@shop.test", "-c", str(config)],
        input="typed-pass-1\ntyped-pass-1\n",
    )
    assert result.exit_code == 0, result.output
    assert "typed-pass-1" not in result.output
    assert check_password("typed-pass-1", str(users.rows[6]["password_hash"]))


def test_passwd_generate_shows_the_new_password_once(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "passwd", "dave@shop.test", "--generate", "-c", str(config)
    )
    assert code == 0
    password = out.split("password (shown only now): ")[1].strip()
    assert check_password(password, str(users.rows[6]["password_hash"]))


def test_passwd_of_an_unknown_user_is_not_found(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = gristops(
        monkeypatch,
        capsys,
        "users",
        "passwd",
        "ghost@shop.test",
        "--password-stdin",
        "-c",
        str(config),
        stdin="ghost-pass-12\n",
    )
    assert code == 3
    assert "no user with the email ghost@shop.test" in err and "users list" in err


def test_disable_marks_the_user_inactive_and_ends_their_logins(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sessions = session_of(config, 1)
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "disable", "admin@shop.test", "-c", str(config)
    )
    assert code == 0
    assert users.rows[1]["active"] is False
    assert "1 login(s) ended" in out and "expire within 900 s" in out
    assert sessions.rotate("tok-1", "next", now=1, expires_at=4e9).status == "revoked"


def test_list_shows_users_without_their_hashes(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = gristops(monkeypatch, capsys, "users", "list", "-c", str(config))
    assert code == 0
    assert "Carol.Mixed@Shop.Test" in out and "$2" not in out
    code, out, _ = gristops(monkeypatch, capsys, "users", "list", "--json", "-c", str(config))
    listed = json.loads(out)
    assert listed[3] == {"id": 4, "email": "bob@shop.test", "role": "user", "active": False}
    assert all(set(u) == {"id", "email", "role", "active"} for u in listed)


def test_enable_makes_a_disabled_user_active(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert users.rows[4]["active"] is False
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "enable", "bob@shop.test", "-c", str(config)
    )
    assert code == 0 and "enabled user 4" in out
    assert users.rows[4]["active"] is True


def test_set_role_changes_the_role_and_ends_the_users_logins(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sessions = session_of(config, 3)
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "set-role", "alice@shop.test", "admin", "-c", str(config)
    )
    assert code == 0 and "now has the role admin; 1 login(s) ended" in out
    assert users.rows[3]["role"] == "admin"
    assert sessions.rotate("tok-3", "next", now=1, expires_at=4e9).status == "revoked"
    code, _, err = gristops(
        monkeypatch, capsys, "users", "set-role", "alice@shop.test", "boss", "-c", str(config)
    )
    assert code == 2 and "unknown role 'boss'" in err
    assert users.rows[3]["role"] == "admin"


def test_delete_asks_first_and_removes_the_row_once_confirmed(
    users: MemoryUsers, config: Path
) -> None:
    refused = CliRunner().invoke(
        app, ["users", "delete", "dave@shop.test", "-c", str(config)], input="n\n"
    )
    assert refused.exit_code == 1 and "delete user 6 (dave@shop.test)?" in refused.output
    assert 6 in users.rows
    done = CliRunner().invoke(
        app, ["users", "delete", "dave@shop.test", "--yes", "-c", str(config)]
    )
    assert done.exit_code == 0, done.output
    assert "deleted user 6" in done.output and 6 not in users.rows


def test_unlock_lets_a_locked_out_account_log_in_again(
    users: MemoryUsers,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = load_config(config)
    throttle = LoginThrottle(LoginFailures(StateDB(cfg.state_path)), cfg.auth)
    keys = throttle.keys(email_digest("alice@shop.test"), "192.0.2.7")
    for _ in range(cfg.auth.max_failures_per_account):
        throttle.failed(keys, now=time.time())
    assert throttle.retry_after(keys[:1], time.time()) > 0
    code, out, _ = gristops(
        monkeypatch, capsys, "users", "unlock", "Alice@Shop.Test", "-c", str(config)
    )
    assert code == 0 and "Alice@Shop.Test can log in again" in out
    assert throttle.retry_after(keys[:1], time.time()) == 0


@pytest.mark.parametrize(
    "command", ["add", "passwd", "disable", "enable", "set-role", "delete", "unlock", "list"]
)
def test_every_users_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, ["users", command, "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add"], "Missing argument 'EMAIL'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["init", "--bogus"], "No such option: --bogus"),
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
    ],
)
def test_usage_mistakes_exit_2_with_clicks_message(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, _, err = gristops(monkeypatch, capsys, *args)
    assert code == 2
    assert message.casefold() in err.casefold()
    assert "Usage: " in err and "internal error" not in err
