"""How long backup work reports progress: the CLI draws bars, tests and the agent do not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Reporter(Protocol):
    def task(self, label: str, total: int) -> Advance:
        """Start a task of `total` bytes; the returned function advances it."""
        ...


def _ignore(_: int) -> None:
    return None


class Silent:
    """A Reporter that reports nothing."""

    def task(self, label: str, total: int) -> Advance:
        return _ignore
