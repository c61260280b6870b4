"""The files a config names for secrets (`*_file` keys): do they exist and can we read them?

pydantic checks a path's shape only; the program that reads the file finds out
too late (serve at its first store call, backup when it encrypts). `config
check` asks here first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from gristops.config.model import Config


def file_keys(node: object, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Every `*_file` key that is set, as (dotted key, path)."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            key = f"{prefix}{name}"
            if name.endswith("_file") and isinstance(value, Path):
                yield key, value
            else:
                yield from file_keys(value, f"{key}.")
    elif isinstance(node, dict):
        for name, value in node.items():
            yield from file_keys(value, f"{prefix}{name}.")


def unreadable_files(config: Config) -> list[str]:
    """One line per `*_file` key whose file is missing or cannot be read."""
    problems = []
    for key, path in file_keys(config):
        if not path.exists():
            problems.append(f"{key}: {path} does not exist")
        elif not path.is_file():
            problems.append(f"{key}: {path} is not a file")
        elif not os.access(path, os.R_OK):
            problems.append(f"{key}: {path} is not readable by this user")
    return problems
