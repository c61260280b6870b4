"""Backup targets: where snapshots go. `open_target` builds one from its config.

Each kind lives in its own module, `gristops.backup.targets.<kind>`, which
defines `create(name: str, config: <Kind>TargetConfig, data_dir: Path) -> Target`
(`local.py`, `s3.py`, `rclone.py`). Modules are imported only when a target of
that kind is configured, so a missing optional client library only matters
to the people who use that kind.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import cast

from gristops.backup.targets.base import Target, check_key
from gristops.config.backup import TargetConfig

__all__ = ["Target", "check_key", "open_target"]


def open_target(name: str, config: TargetConfig, data_dir: Path) -> Target:
    """The target `name` of kind `config.kind`; relative paths are taken from `data_dir`."""
    module = importlib.import_module(f"gristops.backup.targets.{config.kind}")
    return cast(Target, module.create(name, config, data_dir))
