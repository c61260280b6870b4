"""Durations as people write them in configs, plans and options: 90, "90s", "15m",
"1m30s", "6h", "1d" (units from days down to seconds, each at most once; a bare
number is seconds)."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?"
    r"\s*(?:(\d+(?:\.\d+)?)s?)?\s*$"
)
_UNIT_SECONDS = (86400, 3600, 60, 1)
EXAMPLES = '30 or "30s", "15m", "1m30s", "6h", "1d"'


def parse_duration(text: str) -> float | None:
    """Seconds, or None when `text` is not a duration."""
    match = _DURATION.match(text)
    if match is None or not any(match.groups()):
        return None
    return sum(
        float(part) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if part
    )
