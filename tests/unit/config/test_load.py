"""gristops.yaml: every error at once with its key path, ${ENV}, relative paths, app_config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gristops.config import load_config, parse_config
from gristops.config.load import literal_secrets
from gristops.config.sample import sample_yaml
from gristops.errors import ConfigError

APP_CONFIG = """\
grist:
  base_url: https://grist.example.com
  api_key: ${GRIST_API_KEY}
  document_id: abcDEF123
auth:
  users_table: Users
  users_table_schema:
    email_field: email
    password_field: password_hash
    role_field: role
    active_field: active
"""


def test_existing_app_config_sections_are_accepted_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRIST_API_KEY", "k" * 40)
    config = parse_config(APP_CONFIG)
    assert not config.embedded
    assert config.grist.base_url == "https://grist.example.com"
    assert config.grist_api_key() == "k" * 40
    assert config.auth.users_table_schema.password_field == "password_hash"


def test_every_error_is_reported_at_once_with_its_key_path() -> None:
    text = "grist: {document_id: 'a b', nope: 1}\nserver: {port: 0}\nauth: {users_table_schema: {mail: x}}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "g.yaml")
    lines = info.value.message.splitlines()
    assert len(lines) == 4
    assert any(line.startswith("g.yaml: grist.document_id:") for line in lines)
    assert any("grist.nope: unknown key" in line for line in lines)
    assert any(line.startswith("g.yaml: server.port:") for line in lines)
    assert any("auth.users_table_schema.mail: unknown key" in line for line in lines)
    assert "config sample" in info.value.hint


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(
        ConfigError, match=r"g.yaml: line 3 column 1: not valid YAML: expected .,. or .\]."
    ):
        parse_config("grist:\n  document_id: [unclosed\n", "g.yaml")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config("- a\n- b\n")


def test_unset_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIST_API_KEY", raising=False)
    with pytest.raises(
        ConfigError, match=r"grist\.api_key: environment variable GRIST_API_KEY is not set"
    ):
        parse_config(APP_CONFIG)


def test_env_default_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOC", raising=False)
    assert parse_config("grist: {document_id: '${DOC:-Fallback}'}").grist.document_id == "Fallback"


def test_server_store_needs_an_api_key() -> None:
    with pytest.raises(ConfigError, match=r"api_key or grist\.api_key_file is needed"):
        parse_config("grist: {base_url: 'https://g.example', document_id: D}")


def test_docs_dir_alone_is_refused_it_needs_the_grist_server() -> None:
    with pytest.raises(ConfigError, match=r"grist\.docs_dir is set without grist\.base_url"):
        parse_config("grist: {docs_dir: /srv/grist/docs, document_id: D}")


def test_store_kind_follows_base_url_and_docs_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIST_API_KEY", "k")
    server = "base_url: 'http://g:8484', api_key: '${GRIST_API_KEY}', document_id: D"
    assert parse_config("grist: {document_id: D}").store_kind == "embedded"
    assert parse_config(f"grist: {{{server}}}").store_kind == "grist"
    hybrid = parse_config(f"grist: {{{server}, docs_dir: /srv/grist/docs}}")
    assert hybrid.store_kind == "hybrid" and hybrid.hybrid


def test_roles_must_define_admin() -> None:
    with pytest.raises(ConfigError, match="roles must define 'admin'"):
        parse_config("grist: {document_id: D}\nroles: {user: {'*': [read]}}")


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"roles\.admin\.\*"):
        parse_config("grist: {document_id: D}\nroles: {admin: {'*': [read, destroy]}}")


def test_relative_paths_are_taken_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("secret-key\n")
    path = tmp_path / "gristops.yaml"
    path.write_text(
        "data_dir: state\ngrist: {base_url: 'http://g:8484', api_key_file: key, document_id: D}\n"
    )
    config = load_config(path)
    assert config.grist.docs_dir is None
    path.write_text(
        "data_dir: state\ngrist: {base_url: 'http://g:8484', api_key_file: key, document_id: D,"
        " docs_dir: grist-docs}\n"
    )
    assert load_config(path).grist.docs_dir == tmp_path / "grist-docs"
    assert config.data_dir == tmp_path / "state"
    assert config.state_path == tmp_path / "state" / "state.db"
    assert config.grist_api_key() == "secret-key"


def test_missing_file_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert "no such config file" in info.value.message
    assert "gristops init" in info.value.hint


def test_config_is_frozen() -> None:
    config = parse_config("grist: {document_id: D}")
    with pytest.raises(ValidationError, match="frozen"):
        config.grist.document_id = "other"  # type: ignore[misc]


def test_literal_secrets_are_flagged_wherever_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_SECRET", "from-env")
    text = (
        "grist: {base_url: 'http://g:1', api_key: abc, document_id: D}\n"
        "backup:\n  targets:\n    offsite:\n      kind: s3\n      encryption: none\n      endpoint_url: 'http://s3:1'\n"
        "      bucket: b\n      access_key_id: literal-id\n      secret_access_key: ${S3_SECRET}\n"
    )
    config = parse_config(text)
    raw = yaml.safe_load(text)
    assert literal_secrets(raw, config) == ["grist.api_key", "backup.targets.offsite.access_key_id"]


def test_sample_is_a_valid_config_listing_every_section() -> None:
    text = sample_yaml()
    config = parse_config(text)
    assert config.embedded
    for section in ("grist:", "auth:", "roles:", "server:", "log:", "users_table_schema:"):
        assert section in text
    assert "manager" in config.roles
