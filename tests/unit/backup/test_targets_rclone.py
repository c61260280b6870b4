"""RcloneTarget without running rclone: remote paths, which values are masked, hidden files."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from gristops.backup.targets import open_target
from gristops.backup.targets.rclone import RcloneTarget, _hidden
from gristops.config.backup import RcloneTargetConfig


def test_keys_go_under_the_remote_path() -> None:
    assert RcloneTarget("t", "offsite", "backups/site/")._remote("chunks/ab") == (
        "offsite:backups/site/chunks/ab"
    )
    assert RcloneTarget("t", "offsite")._remote("chunks/ab") == "offsite:chunks/ab"
    assert RcloneTarget("t", "offsite", "b")._remote() == "offsite:b"


def test_secret_variables_are_masked_and_others_are_not(tmp_path: Path) -> None:
    config = RcloneTargetConfig(
        remote="box",
        env={
            "RCLONE_CONFIG_BOX_TYPE": SecretStr("sftp"),
            "RCLONE_CONFIG_BOX_PASS": SecretStr("obscured-pass"),
            "RCLONE_CONFIG_BOX_KEY_PEM": SecretStr("-----BEGIN KEY-----"),
        },
        config_file=Path("rclone.conf"),
        encryption="none",
    )
    target = open_target("box", config, tmp_path)
    assert isinstance(target, RcloneTarget)
    assert set(target.secrets) == {"obscured-pass", "-----BEGIN KEY-----"}
    assert target.config_file == tmp_path / "rclone.conf"
    assert "obscured-pass" not in repr(config)


def test_partial_uploads_and_dot_files_are_not_blobs() -> None:
    assert _hidden("snapshots/x.manifest.1a2b.partial")
    assert _hidden("chunks/.tmp-123")
    assert not _hidden("chunks/ab/ab12")
