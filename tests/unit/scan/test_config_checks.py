"""Config checks: each planted problem is found, and a careful config has none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gristops.backup.catalog import Catalog
from gristops.config import load_config
from gristops.scan.config import check_config
from gristops.state.db import StateDB

AGE = "age1" + "q" * 58  # a syntactically valid X25519 recipient
CLEAN = f"""\
data_dir: data
grist: {{document_id: Shop}}
roles:
  admin: {{"*": [read, create, update, delete]}}
  user: {{Products: [read]}}
backup:
  encryption: {{recipients: [{AGE}]}}
  targets:
    offsite: {{kind: s3, bucket: b, access_key_id: "${{S3_KEY}}", secret_access_key: "${{S3_SECRET}}"}}
"""


@pytest.fixture
def state(tmp_path: Path) -> StateDB:
    db = StateDB(tmp_path / "data" / "state.db")
    Catalog(db).record_run("drill", started_at=time.time() - 5, ok=True)
    return db


def findings(tmp_path: Path, text: str, state: StateDB | None) -> dict[str, str]:
    path = tmp_path / "gristops.yaml"
    path.write_text(text)
    found = check_config(load_config(path), state, time.time())
    return {f"{f.rule.id} {f.location.key}": f.evidence for f in found}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_KEY", "key-from-env")
    monkeypatch.setenv("S3_SECRET", "secret-from-env")


def test_a_careful_config_has_no_findings(tmp_path: Path, state: StateDB) -> None:
    assert findings(tmp_path, CLEAN, state) == {}


def test_a_literal_secret_is_found_without_showing_it(tmp_path: Path, state: StateDB) -> None:
    text = CLEAN.replace('"${S3_SECRET}"', "plain-literal-value")
    found = findings(tmp_path, text, state)
    assert list(found) == ["config.literal-secret backup.targets.offsite.secret_access_key"]
    assert "plain-literal-value" not in str(found)


def test_weak_bcrypt_and_long_tokens(tmp_path: Path, state: StateDB) -> None:
    text = (
        CLEAN + "auth: {bcrypt_rounds: 10, access_token_ttl: 86400, refresh_token_ttl: 31536000}\n"
    )
    assert findings(tmp_path, text, state) == {
        "config.bcrypt-cost auth.bcrypt_rounds": "bcrypt_rounds is 10",
        "config.token-lifetime auth.access_token_ttl": "86400 s",
        "config.token-lifetime auth.refresh_token_ttl": "365 days",
    }


def test_cors_wildcard(tmp_path: Path, state: StateDB) -> None:
    found = findings(tmp_path, CLEAN + "server: {cors_origins: ['*']}\n", state)
    assert list(found) == ["config.cors-wildcard server.cors_origins"]
    clean = findings(
        tmp_path, CLEAN + "server: {cors_origins: ['https://app.example.com']}\n", state
    )
    assert clean == {}


def test_non_admin_roles_on_the_users_table_and_grist_tables(
    tmp_path: Path, state: StateDB
) -> None:
    text = CLEAN.replace(
        "  user: {Products: [read]}",
        "  user: {Products: [read]}\n  manager: {'*': [read]}\n  auditor: {_grist_Tables: [read]}\n"
        "  clerk: {'*': [read], Users: []}",
    )
    assert set(findings(tmp_path, text, state)) == {
        "config.role-private-table roles.manager.*",
        "config.role-private-table roles.auditor._grist_Tables",
    }


def test_unencrypted_remote_target_and_no_remote_target(tmp_path: Path, state: StateDB) -> None:
    plain = CLEAN.replace(
        'secret_access_key: "${S3_SECRET}"}', 'secret_access_key: "${S3_SECRET}", encryption: none}'
    )
    assert list(findings(tmp_path, plain, state)) == [
        "config.backup-unencrypted backup.targets.offsite.encryption"
    ]
    local = CLEAN.split("  targets:")[0] + "  targets:\n    disk: {kind: local, path: backups}\n"
    assert list(findings(tmp_path, local, state)) == ["config.no-backup-target backup.targets"]


def test_no_recent_drill(tmp_path: Path) -> None:
    old = StateDB(tmp_path / "old.db")
    Catalog(old).record_run("drill", started_at=0, ok=True)
    with old.transaction() as conn:  # the drill finished ten days ago
        conn.execute("UPDATE backup_runs SET finished_at = ?", (time.time() - 10 * 86400,))
    found = findings(tmp_path, CLEAN, old)
    [(key, evidence)] = found.items()
    assert key == "config.no-recent-drill observe.thresholds.drill_max_age_days"
    assert "days ago (limit 8 days)" in evidence
    never = findings(tmp_path, CLEAN, StateDB(tmp_path / "new.db"))
    assert "no restore drill has succeeded" in next(iter(never.values()))


def test_exposed_server_without_an_edge(tmp_path: Path, state: StateDB) -> None:
    text = CLEAN + "server: {host: 0.0.0.0}\n"
    assert list(findings(tmp_path, text, state)) == ["config.server-exposed server.host"]
    edge = tmp_path / "data" / "edge"
    edge.mkdir(parents=True)
    (edge / "nginx.conf").write_text("# rendered by gristops edge\n")
    assert findings(tmp_path, text, state) == {}
