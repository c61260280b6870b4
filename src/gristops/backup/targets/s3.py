"""A backup target in an S3-compatible bucket (AWS, SeaweedFS, MinIO, Garage...), via boto3.

A PutObject is atomic on S3: readers and listings see the whole object or
none of it, so no temporary names are needed. Timeouts and retries are
bounded, so an unreachable endpoint fails this target within seconds and a
backup run carries on with the others.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from gristops.backup.targets.base import check_key
from gristops.config.backup import S3TargetConfig
from gristops.errors import BlobNotFound, TargetError, TargetFull

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
MAX_ATTEMPTS = 3

_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed",
    "InvalidToken",
    "ExpiredToken",
    "403",
}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_FULL_CODES = {"QuotaExceeded", "XMinioStorageFull", "InsufficientStorage", "507"}


def client_config() -> BotoConfig:
    """Bounded timeouts and retries; checksums only where S3 requires them.

    Several S3-compatible servers reject the newer default CRC trailers, so
    integrity is carried by Content-MD5 on every put instead.
    """
    return BotoConfig(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )


def normalized_prefix(prefix: str) -> str:
    """`prefix` without a leading '/', with a trailing '/' when not empty."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class S3Target:
    """Blobs as objects `prefix + key` in one bucket."""

    def __init__(
        self, name: str, client: S3Client, bucket: str, prefix: str = "", endpoint: str = ""
    ) -> None:
        self._name = name
        self.client = client
        self.bucket = bucket
        self.prefix = normalized_prefix(prefix)
        self.endpoint = endpoint or "AWS S3"
        self.page_size = 1000  # keys per ListObjectsV2 call (S3's maximum)

    @property
    def name(self) -> str:
        return self._name

    def _where(self) -> str:
        return f"backup target {self._name!r} (s3://{self.bucket}/{self.prefix} at {self.endpoint})"

    def _fail(self, what: str, key: str, exc: Exception) -> NoReturn:
        where = self._where()
        if isinstance(exc, NoCredentialsError):
            raise TargetError(
                f"{where}: no S3 credentials to {what} {key}",
                "set access_key_id and secret_access_key (from ${ENV}) on the target",
            ) from None
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _MISSING_KEY_CODES:
                raise BlobNotFound(
                    f"{where}: {key} does not exist",
                    "run `gristops backup list` to see what the target holds",
                ) from None
            if code == "NoSuchBucket":
                raise TargetError(
                    f"{where}: bucket {self.bucket!r} does not exist",
                    "create the bucket, or fix backup.targets.<name>.bucket",
                ) from None
            if code in _AUTH_CODES:
                raise TargetError(
                    f"{where}: access refused to {what} {key} ({code})",
                    "check the access key and secret, and that this identity may "
                    f"{what} in the bucket",
                ) from None
            if code in _FULL_CODES:
                raise TargetFull(
                    f"{where}: the store is full or over quota writing {key} ({code})",
                    "free space or raise the quota; older snapshots are intact",
                ) from None
            message = error.get("Message", "") or code
            raise TargetError(
                f"{where}: cannot {what} {key}: {message}",
                "the S3 server's own message is above",
            ) from None
        raise TargetError(
            f"{where}: cannot reach the endpoint to {what} {key}: {exc}",
            "check endpoint_url and that the S3 server is up and reachable from this host",
        ) from None

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (ClientError, BotoCoreError) as exc:
            self._fail(what, key, exc)

    def put(self, key: str, data: bytes) -> None:
        object_key = self.prefix + check_key(key)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self._call(
            "write",
            key,
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=object_key, Body=data, ContentMD5=md5
            ),
        )

    def get(self, key: str) -> bytes:
        object_key = self.prefix + check_key(key)

        def read() -> bytes:
            return self.client.get_object(Bucket=self.bucket, Key=object_key)["Body"].read()

        return self._call("read", key, read)

    def exists(self, key: str) -> bool:
        object_key = self.prefix + check_key(key)
        try:
            self._call(
                "check", key, lambda: self.client.head_object(Bucket=self.bucket, Key=object_key)
            )
        except BlobNotFound:
            return False
        return True

    def list(self, prefix: str = "") -> list[str]:
        def collect() -> list[str]:
            keys: list[str] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=self.prefix + prefix,
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return sorted(keys)

        return self._call("list", prefix or "/", collect)

    def delete(self, key: str) -> None:
        object_key = self.prefix + check_key(key)
        self._call(
            "delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=object_key)
        )


def open_client(config: S3TargetConfig) -> S3Client:
    """A boto3 S3 client for `config` (keys from the config, else boto3's usual chain)."""
    key = config.access_key_id.get_secret_value() if config.access_key_id else None
    secret = config.secret_access_key.get_secret_value() if config.secret_access_key else None
    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        # None keeps boto3's own CA lookup (AWS_CA_BUNDLE, config files).
        verify=None if config.verify_tls else False,
        config=client_config(),
    )


def create(name: str, config: S3TargetConfig, data_dir: Path) -> S3Target:
    """The S3Target for `config` (`data_dir` is unused: nothing is stored locally)."""
    return S3Target(
        name, open_client(config), config.bucket, config.prefix, config.endpoint_url or ""
    )
