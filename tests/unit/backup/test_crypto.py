"""Sealing: zstd + age, self-describing blobs, clear errors for wrong keys and damage."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gristops.backup.crypto import (
    AGE_MAGIC,
    Keys,
    Sealer,
    generate_identity,
    identity_from_passphrase,
)
from gristops.config.backup import BackupSection
from gristops.errors import ConfigError, CorruptBlob


def _section(**encryption: object) -> BackupSection:
    return BackupSection.model_validate({"encryption": encryption})


def test_passphrase_gives_the_same_key_on_every_host() -> None:
    assert str(identity_from_passphrase("pw").to_public()) == str(
        identity_from_passphrase("pw").to_public()
    )
    sealer = Sealer(Keys.from_config(_section(passphrase="pw")), encrypt=True)
    blob = sealer.seal(b"hello" * 1000)
    assert blob.startswith(AGE_MAGIC) and b"hello" not in blob
    other = Sealer(Keys.from_config(_section(passphrase="pw")), encrypt=True)
    assert other.open(blob, "chunk") == b"hello" * 1000


def test_wrong_passphrase_is_a_clear_error() -> None:
    blob = Sealer(Keys.from_config(_section(passphrase="right")), True).seal(b"data")
    wrong = Sealer(Keys.from_config(_section(passphrase="wrong")), True)
    with pytest.raises(CorruptBlob, match="wrong key"):
        wrong.open(blob, "chunk x")


def test_keygen_identity_file_is_private_and_decrypts(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "backup.age"
    recipient = generate_identity(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="already exists"):
        generate_identity(key)
    writer = Sealer(Keys.from_config(_section(recipients=[recipient])), True)
    reader = Sealer(Keys.from_config(_section(identity_file=str(key))), True)
    assert reader.open(writer.seal(b"doc"), "chunk") == b"doc"
    nokey = Sealer(Keys.from_config(_section(recipients=[recipient])), True)
    with pytest.raises(CorruptBlob, match="no age identity"):
        nokey.open(writer.seal(b"doc"), "chunk")


def test_identity_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "backup.age"
    generate_identity(key)
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        Keys.from_config(_section(identity_file=str(key)))


def test_local_targets_are_plain_unless_keys_exist_remote_ones_encrypted() -> None:
    plain = BackupSection()
    keys = Keys.from_config(plain)
    assert not Sealer.for_target(plain, keys, "local", "auto").encrypt
    with pytest.raises(ConfigError, match="no age recipient"):
        Sealer.for_target(plain, keys, "s3", "auto")
    assert not Sealer.for_target(plain, keys, "s3", "none").encrypt
    keyed = _section(passphrase="pw")
    assert Sealer.for_target(keyed, Keys.from_config(keyed), "local", "auto").encrypt


def test_a_foreign_blob_is_not_taken_for_an_archive_blob() -> None:
    sealer = Sealer(Keys.from_config(BackupSection()), False)
    with pytest.raises(CorruptBlob, match="not a gristops archive blob"):
        sealer.open(b'{"format": "something else"}', "manifest")
