"""The backup: config section: targets, encryption rules, chunk size."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gristops.config.backup import BackupSection, S3TargetConfig

RECIPIENT = "age1jh0h60vdwnrtmqwk9epyrawwv8ezkpstxc45e65j3hxfq6neag5qx5v8ag"


def test_targets_are_a_discriminated_union() -> None:
    section = BackupSection.model_validate(
        {
            "targets": {
                "here": {"kind": "local", "path": "/srv/backups"},
                "offsite": {"kind": "s3", "bucket": "b", "endpoint_url": "http://127.0.0.1:8333"},
                "cloud": {"kind": "rclone", "remote": "gdrive", "path": "gristops"},
            },
            "encryption": {"recipients": [RECIPIENT]},
        }
    )
    assert isinstance(section.targets["offsite"], S3TargetConfig)
    assert section.targets["cloud"].kind == "rclone"


def test_a_remote_target_without_keys_must_say_encryption_none() -> None:
    with pytest.raises(ValidationError, match="needs recipients or a passphrase"):
        BackupSection.model_validate({"targets": {"off": {"kind": "s3", "bucket": "b"}}})
    ok = BackupSection.model_validate(
        {"targets": {"off": {"kind": "s3", "bucket": "b", "encryption": "none"}}}
    )
    assert ok.targets["off"].encryption == "none"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"encryption": {"recipients": ["age1short"]}}, "not an age X25519 recipient"),
        ({"encryption": {"recipients": [RECIPIENT], "passphrase": "x"}}, "either"),
        ({"chunk_size": 100_000}, "multiple of 65536"),
        ({"targets": {"Bad Name": {"kind": "local", "path": "x"}}}, "target name"),
        ({"targets": {"x": {"kind": "ftp"}}}, "kind"),
        ({"replicate": {"targets": ["nope"]}}, "not in backup.targets"),
    ],
)
def test_bad_values_are_refused_with_a_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BackupSection.model_validate(data)
