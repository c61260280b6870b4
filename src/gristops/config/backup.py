"""The `backup:` section of gristops.yaml: what to back up, where, how encrypted, how long kept.

Targets are a name -> config mapping with a `kind` discriminator (`local`,
`s3`, `rclone`). Without any target, snapshots go to `data_dir/backups`.
Secrets (S3 keys, the passphrase) come from `${ENV}` or a `*_file` key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from gristops.config.section import Section

# "auto": age when the target is not local or when keys are configured; else plain.
Encryption = Literal["auto", "age", "none"]
_TARGET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")


class LocalTargetConfig(Section):
    """A directory on this host (or a mounted disk)."""

    kind: Literal["local"] = "local"
    path: Path = Field(description="Directory of the archive; relative paths are under data_dir.")
    encryption: Encryption = Field(
        "auto", description="age, none, or auto (age when backup.encryption has keys)."
    )


class S3TargetConfig(Section):
    """An S3-compatible bucket (AWS, SeaweedFS, MinIO, Garage...)."""

    kind: Literal["s3"] = "s3"
    endpoint_url: str | None = Field(
        None, description="S3 endpoint, e.g. http://127.0.0.1:8333; unset: AWS."
    )
    bucket: str = Field(description="Bucket name.")
    prefix: str = Field("", description="Key prefix inside the bucket, e.g. gristops/.")
    region: str = Field("us-east-1", description="Region name sent in signatures.")
    access_key_id: SecretStr | None = Field(None, description="Use ${S3_ACCESS_KEY_ID}.")
    secret_access_key: SecretStr | None = Field(None, description="Use ${S3_SECRET_ACCESS_KEY}.")
    verify_tls: bool = Field(True, description="Check the endpoint's TLS certificate.")
    encryption: Encryption = Field(
        "auto", description="age (auto) or none; none must be asked for explicitly."
    )

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value.rstrip("/") if value else value


class RcloneTargetConfig(Section):
    """Any rclone remote (sftp, b2, gdrive, ...), configured in rclone's own config file."""

    kind: Literal["rclone"] = "rclone"
    remote: str = Field(description="Remote name from rclone.conf, e.g. offsite.")
    path: str = Field("", description="Path inside the remote, e.g. backups/gristops.")
    config_file: Path | None = Field(None, description="rclone.conf; unset: rclone's default.")
    # Added for the rclone target: a remote defined without a config file.
    env: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="RCLONE_* variables for rclone, e.g. RCLONE_CONFIG_OFFSITE_TYPE: sftp; "
        "secrets from ${ENV}.",
    )

    @field_validator("env")
    @classmethod
    def _rclone_env(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key in value:
            if not re.match(r"^RCLONE_[A-Z0-9_]+$", key):
                raise ValueError(f"{key!r}: only RCLONE_* variables (upper case) are passed")
        return value

    encryption: Encryption = Field(
        "auto", description="age (auto) or none; none must be asked for explicitly."
    )


TargetConfig = Annotated[
    LocalTargetConfig | S3TargetConfig | RcloneTargetConfig, Field(discriminator="kind")
]


class EncryptionSection(Section):
    """age keys: X25519 recipients (public keys) to encrypt to, or a passphrase."""

    recipients: tuple[str, ...] = Field(
        (), description="age public keys (age1...); `gristops backup keygen` makes one."
    )
    identity_file: Path | None = Field(
        None, description="age identity (private key) file, 0600, needed by verify and restore."
    )
    passphrase: SecretStr | None = Field(None, description="Use ${GRISTOPS_BACKUP_PASSPHRASE}.")
    passphrase_file: Path | None = Field(None, description="File holding the passphrase.")

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for r in value:
            if not _AGE_RECIPIENT.match(r):
                raise ValueError(f"{r[:12]!r}... is not an age X25519 recipient (age1...)")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> EncryptionSection:
        keys = bool(self.recipients or self.identity_file)
        secret = self.passphrase is not None or self.passphrase_file is not None
        if keys and secret:
            raise ValueError("use either recipients/identity_file or a passphrase, not both")
        if self.passphrase is not None and self.passphrase_file is not None:
            raise ValueError("set only one of passphrase and passphrase_file")
        return self

    @property
    def configured(self) -> bool:
        return bool(
            self.recipients
            or self.identity_file
            or self.passphrase is not None
            or self.passphrase_file is not None
        )


class RetentionSection(Section):
    """Which snapshots `gristops backup prune` keeps (the newest verified one always)."""

    keep_last: int = Field(1, ge=1, le=1000, description="Newest snapshots kept regardless.")
    keep_daily: int = Field(7, ge=0, le=1000, description="Days with a kept snapshot.")
    keep_weekly: int = Field(4, ge=0, le=1000, description="Weeks with a kept snapshot.")
    keep_monthly: int = Field(3, ge=0, le=1000, description="Months with a kept snapshot.")


class ReplicateSection(Section):
    """Continuous replication of SQLite files with Litestream (gristops replicate)."""

    targets: tuple[str, ...] = Field(
        (), description="Names from backup.targets to replicate to; empty: replication off."
    )
    sync_interval: float = Field(1.0, gt=0, le=3600, description="Seconds between syncs.")
    snapshot_interval: int = Field(86400, ge=60, description="Seconds between full snapshots.")
    retention: int = Field(3 * 86400, ge=3600, description="Seconds replicated history is kept.")


class BackupSection(Section):
    """Backups, restore drills and continuous replication (gristops backup, replicate)."""

    targets: dict[str, TargetConfig] = Field(
        default_factory=dict,
        description="Named targets (kind: local|s3|rclone); empty: local at data_dir/backups.",
    )
    encryption: EncryptionSection = Field(default_factory=EncryptionSection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    replicate: ReplicateSection = Field(default_factory=ReplicateSection)
    extra_paths: tuple[Path, ...] = Field(
        (), description="More files or directories to back up (nginx config, TLS material)."
    )
    server_data_dir: Path | None = Field(
        None, description="A Grist server's data directory when it is on this host."
    )
    server_home_db: Path | None = Field(
        None,
        description="A Grist server's home database (home.sqlite3: users, orgs, document "
        "records) when it is on this host; copied with SQLite's backup API.",
    )
    server_documents: tuple[str, ...] = Field(
        (), description="Grist server documents to download; empty: grist.document_id."
    )
    chunk_size: int = Field(
        1 << 20,
        ge=1 << 16,
        le=1 << 24,
        description="Bytes per deduplicated chunk (a multiple of 65536, SQLite's largest page).",
    )
    compression_level: int = Field(3, ge=1, le=19, description="zstd level of every chunk.")

    @field_validator("targets", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        # A bare `targets:` line (as in the generated sample) means no targets.
        return {} if value is None else value

    @field_validator("targets")
    @classmethod
    def _names(cls, value: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        for name in value:
            if not _TARGET_NAME.match(name):
                raise ValueError(f"target name {name!r}: use lowercase letters, digits, _ and -")
        return value

    @field_validator("chunk_size")
    @classmethod
    def _chunk(cls, value: int) -> int:
        if value % (1 << 16):
            raise ValueError("must be a multiple of 65536 so chunks align with SQLite pages")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BackupSection:
        for name, target in self.targets.items():
            wants_age = target.encryption == "age" or (
                target.encryption == "auto" and target.kind != "local"
            )
            if wants_age and not self.encryption.configured:
                raise ValueError(
                    f"target {name!r} is encrypted (kind {target.kind}), so backup.encryption "
                    "needs recipients or a passphrase (or set encryption: none on the target)"
                )
        for name in self.replicate.targets:
            if name not in self.targets:
                raise ValueError(f"replicate.targets: {name!r} is not in backup.targets")
        return self

    # Added for replication (gristops replicate): Litestream 0.5 keeps one replica per
    # database and writes only to files or S3.
    @model_validator(mode="after")
    def _replica_target(self) -> BackupSection:
        if len(self.replicate.targets) > 1:
            raise ValueError(
                "replicate.targets: name one target (Litestream keeps one replica per database)"
            )
        for name in self.replicate.targets:
            kind = self.targets[name].kind
            if kind not in ("local", "s3"):
                raise ValueError(
                    f"replicate.targets: {name!r} is kind {kind}; replication writes to "
                    "local or s3 targets only"
                )
        return self
