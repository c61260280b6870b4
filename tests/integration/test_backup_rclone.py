"""RcloneTarget through the real `rclone`: a local-filesystem remote and its S3 backend on SeaweedFS."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gristops.backup.targets import open_target
from gristops.config.backup import RcloneTargetConfig
from gristops.errors import TargetError
from tests.support.seaweed import Seaweed, seaweed
from tests.support.target_contract import check_round_trip

pytestmark = pytest.mark.integration
__all__ = ["seaweed"]


def local_remote(tmp_path: Path) -> RcloneTargetConfig:
    return RcloneTargetConfig(
        remote="disk",
        path=str(tmp_path / "remote" / "gristops"),
        env={"RCLONE_CONFIG_DISK_TYPE": SecretStr("local")},
        encryption="none",
    )


def test_round_trip_on_a_local_remote(tmp_path: Path) -> None:
    check_round_trip(open_target("disk", local_remote(tmp_path), tmp_path))
    stored = sorted(
        p.relative_to(tmp_path / "remote/gristops").as_posix()
        for p in (tmp_path / "remote/gristops").rglob("*")
        if p.is_file()
    )
    assert stored == ["chunks/ab/ab12", "snapshots/s1.manifest"]


def test_partial_uploads_are_not_listed(tmp_path: Path) -> None:
    target = open_target("disk", local_remote(tmp_path), tmp_path)
    target.put("snapshots/done.manifest", b"x")
    (tmp_path / "remote/gristops/snapshots/next.manifest.abc123.partial").write_bytes(b"half")
    assert target.list("snapshots/") == ["snapshots/done.manifest"]


def test_rclone_config_file_remote(tmp_path: Path) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[vault]\ntype = local\n")
    config = RcloneTargetConfig(
        remote="vault", path=str(tmp_path / "vault"), config_file=conf, encryption="none"
    )
    target = open_target("vault", config, tmp_path)
    target.put("chunks/00", b"zero")
    assert target.get("chunks/00") == b"zero"


def test_unknown_remote_is_one_clear_line(tmp_path: Path) -> None:
    config = RcloneTargetConfig(
        remote="nowhere", config_file=tmp_path / "empty.conf", encryption="none"
    )
    (tmp_path / "empty.conf").write_text("")
    with pytest.raises(TargetError) as failed:
        open_target("away", config, tmp_path).put("chunks/00", b"zero")
    message = str(failed.value)
    assert "'away'" in message and "nowhere" in message and "\n" not in message
    assert "rclone" in failed.value.hint


def test_s3_backend_on_seaweedfs_with_secrets_masked(seaweed: Seaweed, tmp_path: Path) -> None:
    bucket = seaweed.make_bucket()
    env = {
        "RCLONE_CONFIG_WEED_TYPE": "s3",
        "RCLONE_CONFIG_WEED_PROVIDER": "SeaweedFS",
        "RCLONE_CONFIG_WEED_ENDPOINT": seaweed.endpoint,
        "RCLONE_CONFIG_WEED_ACCESS_KEY_ID": seaweed.access_key,
        "RCLONE_CONFIG_WEED_SECRET_ACCESS_KEY": seaweed.secret_key,
    }
    config = RcloneTargetConfig(
        remote="weed",
        path=f"{bucket}/gristops",
        env={k: SecretStr(v) for k, v in env.items()},
        encryption="none",
    )
    check_round_trip(open_target("weed", config, tmp_path))
    objects = seaweed.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"] for o in objects} == {
        "gristops/chunks/ab/ab12",
        "gristops/snapshots/s1.manifest",
    }

    read_only = {
        **env,
        "RCLONE_CONFIG_WEED_ACCESS_KEY_ID": seaweed.ro_access_key,
        "RCLONE_CONFIG_WEED_SECRET_ACCESS_KEY": seaweed.ro_secret_key,
    }
    ro_config = config.model_copy(update={"env": {k: SecretStr(v) for k, v in read_only.items()}})
    with pytest.raises(TargetError) as refused:
        open_target("weed", ro_config, tmp_path).put("chunks/new", b"n")
    assert "'weed'" in str(refused.value)
    assert seaweed.ro_secret_key not in str(refused.value)
    assert seaweed.ro_access_key not in str(refused.value)
