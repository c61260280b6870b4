"""The configured targets, opened as archives with the sealer each one needs."""

from __future__ import annotations

from pathlib import Path

from gristops.backup.archive import Archive
from gristops.backup.crypto import Keys, Sealer
from gristops.backup.targets import open_target
from gristops.config import Config
from gristops.config.backup import LocalTargetConfig, TargetConfig
from gristops.errors import NotFound

DEFAULT_TARGET = "local"


def target_configs(config: Config) -> dict[str, TargetConfig]:
    """The configured targets, or the default local one at data_dir/backups."""
    return dict(config.backup.targets) or {DEFAULT_TARGET: LocalTargetConfig(path=Path("backups"))}


def target_names(config: Config, only: str | None = None) -> list[str]:
    names = list(target_configs(config))
    if only is None:
        return names
    if only not in names:
        raise NotFound(
            f"there is no backup target {only!r}",
            f"configured targets: {', '.join(names)} (backup.targets in the config)",
        )
    return [only]


def open_archive(config: Config, keys: Keys, name: str) -> Archive:
    cfg = target_configs(config)[name]
    sealer = Sealer.for_target(config.backup, keys, cfg.kind, cfg.encryption)
    return Archive(open_target(name, cfg, config.data_dir), sealer)
