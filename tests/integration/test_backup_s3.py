"""S3Target against a real SeaweedFS (`weed mini`) with auth on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from gristops.backup.targets import open_target
from gristops.backup.targets.s3 import S3Target
from gristops.config.backup import S3TargetConfig
from gristops.errors import TargetError
from tests.gateway_harness import free_port
from tests.integration.backup_support import cli, cli_json, install
from tests.support.seaweed import Seaweed, seaweed
from tests.support.target_contract import check_round_trip

pytestmark = pytest.mark.integration
__all__ = ["seaweed"]


def s3_config(weed: Seaweed, bucket: str, **changes: object) -> S3TargetConfig:
    values: dict[str, object] = {
        "endpoint_url": weed.endpoint,
        "bucket": bucket,
        "prefix": "site/gristops/",
        "access_key_id": SecretStr(weed.access_key),
        "secret_access_key": SecretStr(weed.secret_key),
        "encryption": "none",
    }
    values.update(changes)
    return S3TargetConfig.model_validate(values)


def target(weed: Seaweed, bucket: str, tmp_path: Path, **changes: object) -> S3Target:
    opened = open_target("offsite", s3_config(weed, bucket, **changes), tmp_path)
    assert isinstance(opened, S3Target)
    return opened


def test_round_trip_under_the_prefix(seaweed: Seaweed, tmp_path: Path) -> None:
    bucket = seaweed.make_bucket()
    t = target(seaweed, bucket, tmp_path)
    check_round_trip(t)
    stored = seaweed.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"] for o in stored} == {
        "site/gristops/chunks/ab/ab12",
        "site/gristops/snapshots/s1.manifest",
    }


def test_listing_follows_every_page(seaweed: Seaweed, tmp_path: Path) -> None:
    t = target(seaweed, seaweed.make_bucket(), tmp_path)
    t.page_size = 2
    keys = [f"chunks/{i:02d}" for i in range(7)]
    for key in keys:
        t.put(key, key.encode())
    assert t.list("chunks/") == keys


def test_read_only_identity_cannot_write(seaweed: Seaweed, tmp_path: Path) -> None:
    bucket = seaweed.make_bucket()
    target(seaweed, bucket, tmp_path).put("snapshots/kept.manifest", b"x")
    ro = target(
        seaweed,
        bucket,
        tmp_path,
        access_key_id=SecretStr(seaweed.ro_access_key),
        secret_access_key=SecretStr(seaweed.ro_secret_key),
    )
    assert ro.list() == ["snapshots/kept.manifest"]
    with pytest.raises(TargetError) as refused:
        ro.put("snapshots/new.manifest", b"y")
    message = str(refused.value)
    assert "offsite" in message and "access refused" in message
    assert "\n" not in message and refused.value.hint
    assert seaweed.ro_secret_key not in message
    assert ro.list() == ["snapshots/kept.manifest"]


def test_wrong_secret_is_refused(seaweed: Seaweed, tmp_path: Path) -> None:
    bad = target(
        seaweed, seaweed.make_bucket(), tmp_path, secret_access_key=SecretStr("not-the-secret")
    )
    with pytest.raises(TargetError, match="access refused"):
        bad.list()


def test_missing_bucket_is_named(seaweed: Seaweed, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="bucket 'nosuchbucket' does not exist") as missing:
        # SeaweedFS creates a missing bucket on a put by an admin identity, so list.
        target(seaweed, "nosuchbucket", tmp_path).list("snapshots/")
    assert "offsite" in str(missing.value)


def test_unreachable_endpoint_fails_quickly(tmp_path: Path) -> None:
    config = S3TargetConfig(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        bucket="any",
        access_key_id=SecretStr("k"),
        secret_access_key=SecretStr("s"),
        encryption="none",
    )
    t = open_target("offsite", config, tmp_path)
    started = time.monotonic()
    with pytest.raises(TargetError, match="cannot reach the endpoint") as down:
        t.put("chunks/x", b"x")
    assert "offsite" in str(down.value) and "endpoint_url" in down.value.hint
    # Bounded retries: the run goes on to the other targets instead of hanging.
    assert time.monotonic() - started < 30


def test_backup_run_goes_on_past_an_unreachable_s3_target(
    seaweed: Seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_S3_KEY", seaweed.access_key)
    monkeypatch.setenv("TEST_S3_SECRET", seaweed.secret_key)
    keys = "access_key_id: '${TEST_S3_KEY}', secret_access_key: '${TEST_S3_SECRET}'"
    extra = (
        "backup:\n"
        "  encryption: {passphrase: '${GRISTOPS_BACKUP_PASSPHRASE}'}\n"
        "  targets:\n"
        "    disk: {kind: local, path: backups}\n"
        f"    offsite: {{kind: s3, endpoint_url: '{seaweed.endpoint}', "
        f"bucket: {seaweed.make_bucket()}, {keys}}}\n"
        f"    down: {{kind: s3, endpoint_url: 'http://127.0.0.1:{free_port()}', "
        f"bucket: gone, {keys}}}\n"
    )
    config = install(tmp_path, extra)
    result = cli(config, "run")
    assert result.returncode == 1
    failed = [ln for ln in result.stderr.splitlines() if ln.startswith("error: target")]
    assert len(failed) == 1 and "down" in failed[0] and "cannot reach" in failed[0]
    assert seaweed.secret_key not in result.stderr
    assert "disk: ok" in result.stdout and "offsite: ok" in result.stdout
    verified = cli_json(config, "verify", "--target", "offsite")
    assert [v["ok"] for v in verified] == [True]
    listed = cli(config, "list", "--json")
    assert listed.returncode == 1  # a target could not be listed...
    assert "target down:" in listed.stderr
    [row] = json.loads(listed.stdout)  # ...but the others were
    assert sorted(row["targets"]) == ["disk", "offsite"]
