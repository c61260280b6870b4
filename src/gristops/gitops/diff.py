"""What differs between the live gristops.yaml and the desired one, as a unified diff.

Both sides are compared as data (key order, comments and quoting are not
differences) and shown as sorted YAML. Secrets written literally on either
side are shown as *** so a diff can go to logs, the state DB and alerts.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from typing import Any

import yaml

MASK = "***"


def masked(data: dict[str, Any], secret_paths: Iterable[str]) -> dict[str, Any]:
    """A copy of `data` with the value at each dotted path replaced by ***."""
    result = copy.deepcopy(data)
    for dotted in secret_paths:
        *parents, leaf = dotted.split(".")
        node: Any = result
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf) is not None:
            node[leaf] = MASK
    return result


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)


def config_diff(
    live: dict[str, Any] | None,
    desired: dict[str, Any],
    secret_paths: Iterable[str],
    *,
    live_name: str,
    desired_name: str,
) -> str:
    """The unified diff from `live` (None: a missing file, or one that is not a YAML
    mapping, never shown as text since it may hold secrets) to `desired`; empty when
    both hold the same data."""
    paths = tuple(secret_paths)
    if live == desired:
        return ""
    before = "" if live is None else dump(masked(live, paths))
    after = dump(masked(desired, paths))
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=live_name,
        tofile=desired_name,
    )
    return "".join(lines)
