"""File checks: secrets and data readable by group or other, or owned by another user."""

from __future__ import annotations

import os
from pathlib import Path

from gristops.config import parse_config
from gristops.scan.files import check_files
from gristops.state.db import StateDB


def deployment(tmp_path: Path) -> tuple[Path, Path]:
    """A data_dir as gristops leaves it: private keys, state DB, documents, backups."""
    data = tmp_path / "data"
    StateDB(data / "state.db").close()
    for folder in ("keys", "docs", "backups", "backups/chunks"):
        (data / folder).mkdir(mode=0o700)
    for file in ("keys/k1.pem", "keys/backup.age", "docs/Shop.grist", "backups/chunks/ab"):
        fd = os.open(data / file, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    (tmp_path / "grist.key").write_text("k")
    (tmp_path / "grist.key").chmod(0o600)
    config = f"""\
data_dir: {data}
grist: {{document_id: Shop, base_url: "http://127.0.0.1:9", api_key_file: {tmp_path / "grist.key"}}}
backup: {{encryption: {{identity_file: {data / "keys/backup.age"}}}}}
"""
    path = tmp_path / "gristops.yaml"
    path.write_text(config)
    return path, data


def ids(path: Path, uid: int | None = None) -> list[tuple[str, str]]:
    from gristops.config import load_config

    found = check_files(load_config(path), os.geteuid() if uid is None else uid)
    return [(f.rule.id, str(f.location.path)) for f in found]


def test_private_files_have_no_findings(tmp_path: Path) -> None:
    path, _ = deployment(tmp_path)
    assert ids(path) == []


def test_each_readable_secret_or_data_file_is_found(tmp_path: Path) -> None:
    path, data = deployment(tmp_path)
    planted = {
        data / "keys" / "k1.pem": data / "keys",
        data / "keys" / "backup.age": data / "keys" / "backup.age",
        data / "state.db": data / "state.db",
        data / "docs" / "Shop.grist": data / "docs",
        data / "backups" / "chunks" / "ab": data / "backups",
        tmp_path / "grist.key": tmp_path / "grist.key",
    }
    for file, reported in planted.items():
        file.chmod(0o644)
        assert ("files.open-mode", str(reported)) in ids(path), file
        file.chmod(0o600)
    assert ids(path) == []


def test_a_listable_directory_is_found(tmp_path: Path) -> None:
    path, data = deployment(tmp_path)
    (data / "backups").chmod(0o755)
    assert ids(path) == [("files.open-mode", str(data / "backups"))]


def test_files_owned_by_another_user_are_found(tmp_path: Path) -> None:
    path, data = deployment(tmp_path)
    found = ids(path, uid=os.geteuid() + 4242)
    assert ("files.wrong-owner", str(data / "state.db")) in found
    assert ("files.wrong-owner", str(data / "keys")) in found
    assert {rule for rule, _ in found} == {"files.wrong-owner"}


def test_the_identity_file_evidence_names_what_it_is(tmp_path: Path) -> None:
    from gristops.config import load_config

    path, data = deployment(tmp_path)
    (data / "keys" / "backup.age").chmod(0o640)
    evidence = [f.evidence for f in check_files(load_config(path), os.geteuid())]
    assert any("the age identity" in e and "-rw-r-----" in e for e in evidence), evidence
    assert parse_config("grist: {document_id: Shop}\n")  # a config without files: nothing to check
