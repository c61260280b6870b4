"""Shared pieces of the backup integration tests: an install with a big document, the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.gateway_harness import copy_shop, write_config


def install(root: Path, extra: str = "", filler_mb: int = 0) -> Path:
    """gristops.yaml + data/docs/Shop.grist under `root`, optionally grown by incompressible rows."""
    copy_shop(root)
    if filler_mb:
        grow(root / "data" / "docs" / "Shop.grist", filler_mb)
    return write_config(root, extra)


def grow(doc: Path, megabytes: int) -> None:
    with sqlite3.connect(doc) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS Filler (id INTEGER PRIMARY KEY, blob BLOB)")
        conn.executemany(
            "INSERT INTO Filler (blob) VALUES (randomblob(65536))", [()] * (megabytes * 16)
        )


def cli(
    config: Path, *args: str, check: bool = False, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gristops", "backup", *args, "-c", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GRISTOPS_BACKUP_PASSPHRASE": "correct horse"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


def cli_json(config: Path, *args: str) -> Any:
    return json.loads(cli(config, *args, "--json", check=True).stdout)


def spawn(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gristops", "backup", *args, "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GRISTOPS_BACKUP_PASSPHRASE": "correct horse"},
    )
