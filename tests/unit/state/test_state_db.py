"""The state DB file: private permissions, WAL, migrations, thread and process sharing."""

from __future__ import annotations

import secrets
import sqlite3
import stat
import threading
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from gristops.config import load_config
from gristops.errors import ConfigError, Unavailable
from gristops.runtime.pgdump import split_password
from gristops.state.db import StateDB
from gristops.state.migrations import MIGRATIONS
from gristops.state.throttle import FailureKey, LoginFailures
from tests.support.postgres import Cluster


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_state_db_is_private_in_wal_mode_and_at_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "data" / "state.db"
    db = StateDB(path)
    db.check_writable()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert db.schema_version == len(MIGRATIONS)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"refresh_tokens", "refresh_families", "login_failures", "auth_events"} <= tables
    for sidecar in (path.with_name("state.db-wal"), path.with_name("state.db-shm")):
        if sidecar.exists():
            assert mode(sidecar) & 0o077 == 0
    db.close()


def test_loose_permissions_of_an_existing_file_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    StateDB(path).close()
    assert mode(path) == 0o600


def test_reopening_keeps_the_data_and_does_not_migrate_again(state_location: Path | str) -> None:
    path = state_location
    first = StateDB(path)
    LoginFailures(first).record([FailureKey("client", "10.0.0.1")], now=100.0)
    first.close()
    again = StateDB(path)
    assert again.schema_version == len(MIGRATIONS)
    assert LoginFailures(again).count_since(FailureKey("client", "10.0.0.1"), 0).count == 1


def test_a_state_db_from_a_newer_release_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateDB(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    with pytest.raises(Unavailable) as err:
        StateDB(path)
    assert "newer than this gristops knows" in err.value.message
    assert err.value.hint


def test_an_unusable_location_is_reported_as_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(Unavailable) as err:
        StateDB(blocker / "state.db")
    assert "cannot open the state DB" in err.value.message


def test_a_failed_transaction_leaves_nothing_behind(state_location: Path | str) -> None:
    db = StateDB(state_location)
    failures = LoginFailures(db)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO login_failures (scope, key, at) VALUES ('client', 'x', 1)")
        raise RuntimeError("boom")
    assert failures.count_since(FailureKey("client", "x"), 0).count == 0
    db.check_writable()  # the connection is usable again


def test_many_threads_and_a_second_connection_share_one_db(state_location: Path | str) -> None:
    path = state_location
    db, other_process = StateDB(path), StateDB(path)
    key = FailureKey("account", "digest")

    def work(target: StateDB) -> None:
        for _ in range(25):
            LoginFailures(target).record([key], now=10.0)

    threads = [threading.Thread(target=work, args=(t,)) for t in (db, other_process) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert LoginFailures(db).count_since(key, 0).count == 200
    assert LoginFailures(other_process).count_since(key, 0).count == 200


def test_a_postgresql_password_is_never_shown(postgres_cluster: Cluster, postgres_url: str) -> None:
    db = StateDB(postgres_url)
    assert postgres_cluster.password not in db.where
    assert db.where.startswith("postgresql://gristops@127.0.0.1:") and db.kind == "postgresql"
    db.close()
    password = postgres_cluster.password
    wrong = postgres_cluster.url().replace(password, f"not-{password}")
    with pytest.raises(Unavailable) as err:
        StateDB(wrong)
    assert postgres_cluster.password not in f"{err.value.message} {err.value.hint}"
    assert "cannot reach the state DB postgresql://gristops@127.0.0.1" in err.value.message
    assert "state.url" in err.value.hint


def test_pg_dump_gets_the_password_in_its_environment_not_its_arguments() -> None:
    generated = secrets.token_urlsafe(8) + "@/"  # characters a URL must escape
    userinfo = "app:" + quote(generated, safe="")
    bare, env = split_password(f"postgresql://{userinfo}@db:5432/state?sslmode=require")
    assert bare == "postgresql://app@db:5432/state?sslmode=require"
    assert env == {"PGPASSWORD": generated}
    assert split_password("postgresql://app@db/state") == ("postgresql://app@db/state", {})


def test_state_url_takes_postgresql_urls_only(tmp_path: Path) -> None:
    path = tmp_path / "gristops.yaml"
    path.write_text('grist: {document_id: Shop}\nstate: {url: "mysql://x@y/z"}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "state.url must start with postgresql://" in err.value.message


def test_a_role_that_may_not_create_tables_is_told_what_to_grant(
    postgres_cluster: Cluster, postgres_url: str
) -> None:
    schema = postgres_url.rsplit("%3D", 1)[1]
    role, password = f"reader_{schema}", secrets.token_hex(8)
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    url = postgres_url.replace(f"gristops:{postgres_cluster.password}", f"{role}:{password}")
    with pytest.raises(Unavailable) as err:
        StateDB(url)
    assert "refuses gristops" in err.value.message and "GRANT" in err.value.hint
    assert password not in err.value.message
