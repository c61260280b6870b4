"""A backup target on any rclone remote (sftp, b2, gdrive, s3, a local path...), via `rclone`.

Blobs travel through a private temporary file: `rclone copyto` uploads it
(rclone writes local, sftp, ftp and smb remotes to a `.partial` name and
renames it; object stores put whole objects), so a reader sees the whole blob
or nothing. The remote comes from rclone's config file or from `RCLONE_*`
variables in gristops.yaml; their secret values are masked in every message.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from gristops.backup.targets.base import check_key
from gristops.config.backup import RcloneTargetConfig
from gristops.errors import BlobNotFound, TargetError
from gristops.runtime.process import run

# rclone's exit codes (https://rclone.org/docs/#exit-code).
_DIR_NOT_FOUND = 3
_FILE_NOT_FOUND = 4
_SECRET_NAME = re.compile(r"PASS|SECRET|KEY|TOKEN|CREDENTIALS", re.IGNORECASE)
# Bounded so an unreachable remote fails this target quickly.
_NETWORK_FLAGS = (
    "--contimeout",
    "10s",
    "--timeout",
    "60s",
    "--retries",
    "1",
    "--low-level-retries",
    "3",
)
_TIMEOUT = 600.0


class RcloneTarget:
    """Blobs as files under `remote:path`."""

    def __init__(
        self,
        name: str,
        remote: str,
        path: str = "",
        *,
        config_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._name = name
        self.base = f"{remote}:{path.rstrip('/')}"
        self.config_file = config_file
        self.env = dict(env or {})
        self.secrets = tuple(v for k, v in self.env.items() if _SECRET_NAME.search(k) and v)

    @property
    def name(self) -> str:
        return self._name

    def _remote(self, key: str = "") -> str:
        if not key:
            return self.base
        return f"{self.base}/{key}" if not self.base.endswith(":") else f"{self.base}{key}"

    def _rclone(self, *args: str) -> subprocess.CompletedProcess[str]:
        config = ("--config", str(self.config_file)) if self.config_file else ()
        return run(
            ["rclone", *args, *config, *_NETWORK_FLAGS, "--quiet"],
            timeout=_TIMEOUT,
            env=self.env,
            secrets=self.secrets,
            check=False,
        )

    def _fail(self, what: str, key: str, result: subprocess.CompletedProcess[str]) -> TargetError:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit {result.returncode}"
        for secret in self.secrets:
            detail = detail.replace(secret, "***")
        return TargetError(
            f"backup target {self._name!r} ({self.base}): cannot {what} {key}: {detail}",
            "check the remote with `rclone lsd REMOTE:` using the same config",
        )

    def put(self, key: str, data: bytes) -> None:
        check_key(key)
        with tempfile.TemporaryDirectory(prefix="gristops-rclone-") as tmp:
            source = Path(tmp) / "blob"
            source.write_bytes(data)
            result = self._rclone("copyto", str(source), self._remote(key))
        if result.returncode != 0:
            raise self._fail("write", key, result)

    def get(self, key: str) -> bytes:
        check_key(key)
        with tempfile.TemporaryDirectory(prefix="gristops-rclone-") as tmp:
            target = Path(tmp) / "blob"
            result = self._rclone("copyto", self._remote(key), str(target))
            if result.returncode in (_DIR_NOT_FOUND, _FILE_NOT_FOUND) or (
                result.returncode == 0 and not target.exists()
            ):
                raise BlobNotFound(
                    f"backup target {self._name!r}: {key} does not exist",
                    "run `gristops backup list` to see what the target holds",
                )
            if result.returncode != 0:
                raise self._fail("read", key, result)
            return target.read_bytes()

    def exists(self, key: str) -> bool:
        result = self._rclone("lsf", "--files-only", self._remote(check_key(key)))
        if result.returncode in (_DIR_NOT_FOUND, _FILE_NOT_FOUND):
            return False
        if result.returncode != 0:
            raise self._fail("check", key, result)
        return bool(result.stdout.strip())

    def list(self, prefix: str = "") -> list[str]:
        # List only under the prefix's directory, then filter by the rest of it.
        directory = prefix.rpartition("/")[0]
        result = self._rclone("lsf", "-R", "--files-only", self._remote(directory))
        if result.returncode == _DIR_NOT_FOUND:
            return []
        if result.returncode != 0:
            raise self._fail("list", prefix or "/", result)
        base = f"{directory}/" if directory else ""
        keys = (base + line for line in result.stdout.splitlines() if line)
        return sorted(k for k in keys if k.startswith(prefix) and not _hidden(k))

    def delete(self, key: str) -> None:
        result = self._rclone("deletefile", self._remote(check_key(key)))
        if result.returncode not in (0, _DIR_NOT_FOUND, _FILE_NOT_FOUND):
            raise self._fail("delete", key, result)


def _hidden(key: str) -> bool:
    """Partial uploads and other dot-files are never complete blobs."""
    return any(part.startswith(".") for part in key.split("/")) or key.endswith(".partial")


def create(name: str, config: RcloneTargetConfig, data_dir: Path) -> RcloneTarget:
    """The RcloneTarget for `config`; a relative config_file is taken from `data_dir`."""
    config_file = config.config_file
    if config_file is not None and not config_file.is_absolute():
        config_file = data_dir / config_file
    env = {key: value.get_secret_value() for key, value in config.env.items()}
    return RcloneTarget(name, config.remote, config.path, config_file=config_file, env=env)
