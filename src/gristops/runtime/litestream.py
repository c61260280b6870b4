"""Litestream 0.5: its config file, the replication service, replica listings and restore.

Litestream 0.5 keeps ONE replica per database (key `replica:`). Credentials
never reach the config file: it names `${GRISTOPS_LITESTREAM_*}` variables,
which Litestream expands from the environment the service gets. This
machine's `AWS_CA_BUNDLE` breaks Litestream's S3 client, so it is unset for
Litestream only.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from gristops.errors import ExternalProgramError, GristopsError
from gristops.runtime.process import Service, run

UNSET_ENV = ("AWS_CA_BUNDLE",)
_ID_ENV = "GRISTOPS_LITESTREAM_ACCESS_KEY_ID"
_SIGNING_ENV = "GRISTOPS_LITESTREAM_SECRET_ACCESS_KEY"


@dataclass(frozen=True)
class Replica:
    """Where replicas go: a directory (`root`) or an S3 bucket (`bucket`, `prefix`, ...)."""

    root: Path | None = None
    bucket: str = ""
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    skip_verify: bool = False

    def env(self) -> dict[str, str]:
        """The environment Litestream needs (its secrets included)."""
        return {_ID_ENV: self.access_key_id, _SIGNING_ENV: self.secret_access_key}

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.access_key_id, self.secret_access_key) if s)

    def describe(self, name: str) -> str:
        """Where database `name` is replicated, for people (no secrets)."""
        if self.root is not None:
            return str(self.root / name)
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def settings(self, name: str, sync_interval: float) -> dict[str, object]:
        """The `replica:` block of database `name`."""
        interval = f"{sync_interval:g}s"
        if self.root is not None:
            return {"type": "file", "path": str(self.root / name), "sync-interval": interval}
        block: dict[str, object] = {
            "type": "s3",
            "bucket": self.bucket,
            "path": f"{self.prefix}{name}",
            "region": self.region,
            "force-path-style": True,
            "sync-interval": interval,
        }
        if self.endpoint:
            block["endpoint"] = self.endpoint
        if self.skip_verify:
            block["skip-verify"] = True
        if self.access_key_id:
            block["access-key-id"] = f"${{{_ID_ENV}}}"
            block["secret-access-key"] = f"${{{_SIGNING_ENV}}}"
        return block


def render_config(
    databases: dict[str, Path],
    replica: Replica,
    *,
    sync_interval: float,
    snapshot_interval: int,
    retention: int,
) -> str:
    """litestream.yml replicating each `name -> path` database to `replica/<name>`."""
    config = {
        "snapshot": {"interval": f"{snapshot_interval}s", "retention": f"{retention}s"},
        "dbs": [
            {"path": str(path), "replica": replica.settings(name, sync_interval)}
            for name, path in sorted(databases.items())
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def service(config_path: Path, replica: Replica, log_path: Path) -> Service:
    """`litestream replicate` for `config_path`, not yet started."""
    return Service(
        "litestream",
        ["litestream", "replicate", "-config", str(config_path)],
        log_path=log_path,
        env=replica.env(),
        unset_env=UNSET_ENV,
        secrets=replica.secrets(),
        stop_timeout=15,
    )


def sync_once(config_path: Path, replica: Replica, timeout: float = 300) -> None:
    """One sync of every database to its replica, then exit."""
    run(
        ["litestream", "replicate", "-once", "-config", str(config_path)],
        env=replica.env(),
        unset_env=UNSET_ENV,
        secrets=replica.secrets(),
        timeout=timeout,
    )


@dataclass(frozen=True)
class Position:
    """The newest transaction a replica holds, and when Litestream wrote it."""

    txid: int
    at: float


def replica_position(config_path: Path, db_path: Path, replica: Replica) -> Position | None:
    """The replica's newest position for `db_path`; None when it holds nothing yet."""
    result = run(
        ["litestream", "ltx", "-json", "-level", "all", "-config", str(config_path), str(db_path)],
        env=replica.env(),
        unset_env=UNSET_ENV,
        secrets=replica.secrets(),
        timeout=60,
    )
    files = json.loads(result.stdout or "[]") or []
    if not files:
        return None
    newest = max(files, key=lambda f: int(f["max_txid"], 16))
    at = datetime.fromisoformat(newest["timestamp"].replace("Z", "+00:00")).timestamp()
    return Position(int(newest["max_txid"], 16), at)


def restore(
    config_path: Path,
    db_path: Path,
    out_path: Path,
    replica: Replica,
    timestamp: datetime | None = None,
) -> None:
    """Rebuild `db_path` from its replica into `out_path` (as of `timestamp` when given)."""
    args = ["litestream", "restore", "-config", str(config_path), "-o", str(out_path)]
    if timestamp is not None:
        args += ["-timestamp", timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    try:
        run(
            [*args, str(db_path)],
            env=replica.env(),
            unset_env=UNSET_ENV,
            secrets=replica.secrets(),
            timeout=600,
        )
    except ExternalProgramError as exc:
        nothing = ("no matching backup", "no snapshots", "timestamp does not exist")
        if any(text in exc.message for text in nothing):
            when = "at or before that time" if timestamp is not None else "yet"
            raise GristopsError(
                f"the replica of {db_path.name} holds nothing {when}",
                "`gristops replicate --status` shows what is replicated and up to when",
            ) from None
        raise


# An LTX header: magic, flags, page size, commit, min txid, max txid, timestamp (ms).
_LTX_HEADER = struct.Struct(">4sIIIQQq")


def pending_since(db_path: Path, replicated_txid: int) -> float | None:
    """When Litestream captured the oldest change its replica does not hold yet; None: none.

    Litestream keeps the changes it captured (LTX files, named by their txid
    range, with a millisecond timestamp in the header) beside the database,
    in `.<name>-litestream/ltx/0/`, until they are uploaded and compacted.
    """
    directory = db_path.parent / f".{db_path.name}-litestream" / "ltx" / "0"
    oldest: float | None = None
    try:
        names = [p.name for p in directory.iterdir() if p.suffix == ".ltx"]
    except FileNotFoundError:
        return None
    for name in names:
        try:
            max_txid = int(name.removesuffix(".ltx").split("-")[1], 16)
        except (IndexError, ValueError):
            continue
        if max_txid <= replicated_txid:
            continue
        try:
            with (directory / name).open("rb") as f:
                header = _LTX_HEADER.unpack(f.read(_LTX_HEADER.size))
        except (OSError, struct.error):
            continue  # compacted away meanwhile, or still being written
        at = header[6] / 1000
        oldest = at if oldest is None else min(oldest, at)
    return oldest
