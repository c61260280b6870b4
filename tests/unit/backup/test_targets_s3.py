"""S3Target without a server: what a person reads when S3 says no, keys, config checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr, ValidationError

from gristops.backup.targets import open_target
from gristops.backup.targets.s3 import S3Target, normalized_prefix
from gristops.config.backup import BackupSection, S3TargetConfig
from gristops.errors import BlobNotFound, TargetError, TargetFull


def target(tmp_path: Path) -> S3Target:
    config = S3TargetConfig(
        endpoint_url="http://127.0.0.1:9",
        bucket="archive",
        prefix="/site/",
        access_key_id=SecretStr("AKIDEXAMPLE"),
        secret_access_key=SecretStr("wJalrXUtnFEMIexample"),
        encryption="none",
    )
    opened = open_target("offsite", config, tmp_path)
    assert isinstance(opened, S3Target)
    return opened


def s3_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PutObject")


def test_prefix_is_normalized(tmp_path: Path) -> None:
    assert target(tmp_path).prefix == "site/"
    assert normalized_prefix("") == ""
    assert normalized_prefix("a/b") == "a/b/"


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("NoSuchBucket", TargetError, "bucket 'archive' does not exist"),
        ("AccessDenied", TargetError, "access refused"),
        ("SignatureDoesNotMatch", TargetError, "access refused"),
        ("InvalidAccessKeyId", TargetError, "access refused"),
        ("NoSuchKey", BlobNotFound, "does not exist"),
        ("QuotaExceeded", TargetFull, "full or over quota"),
        ("InternalError", TargetError, "We encountered an internal error"),
    ],
)
def test_s3_refusals_are_one_line_naming_the_target(
    tmp_path: Path, code: str, kind: type[TargetError], words: str
) -> None:
    t = target(tmp_path)
    with pytest.raises(kind) as failed:
        t._fail("write", "chunks/ab", s3_error(code, "We encountered an internal error"))
    message = str(failed.value)
    assert words in message
    assert "'offsite'" in message and "s3://archive/site/" in message
    assert "\n" not in message and failed.value.hint
    assert "wJalrXUtnFEMIexample" not in message


def test_unsafe_keys_are_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="invalid backup key"):
        target(tmp_path).put("../escape", b"x")


def test_only_rclone_variables_are_accepted() -> None:
    with pytest.raises(ValidationError, match="only RCLONE_"):
        BackupSection.model_validate(
            {"targets": {"r": {"kind": "rclone", "remote": "x", "env": {"HOME": "/"}}}}
        )


def test_replication_takes_one_local_or_s3_target() -> None:
    targets = {
        "a": {"kind": "local", "path": "a"},
        "b": {"kind": "local", "path": "b"},
        "r": {"kind": "rclone", "remote": "x", "encryption": "none"},
    }
    with pytest.raises(ValidationError, match="name one target"):
        BackupSection.model_validate({"targets": targets, "replicate": {"targets": ["a", "b"]}})
    with pytest.raises(ValidationError, match="local or s3 targets only"):
        BackupSection.model_validate({"targets": targets, "replicate": {"targets": ["r"]}})
    ok = BackupSection.model_validate({"targets": targets, "replicate": {"targets": ["a"]}})
    assert ok.replicate.targets == ("a",)
