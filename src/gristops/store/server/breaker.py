"""A circuit breaker: stop calling a backend that keeps failing, try again after a pause.

Closed: calls go through; `failures` failures in a row open it. Open: calls fail
fast with Unavailable, without touching the network, for `reset` seconds. Then
half-open: one trial call goes through (the others still fail fast); its success
closes the breaker, its failure opens it for another `reset` seconds.
`on_change(True)` is called when the circuit opens, `on_change(False)` when it
closes again (the metric `gristops_grist_breaker_open`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal, NoReturn

from gristops.errors import Unavailable

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Counts consecutive failures of one backend. Not thread-safe: one event loop."""

    def __init__(
        self,
        name: str,
        failures: int,
        reset: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._name = name
        self._on_change = on_change
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset:
            return "half-open"
        return "open"

    def check(self) -> None:
        """Raise Unavailable while the circuit is open; admit nothing (see `admit`)."""
        if self.state == "open":
            self._refuse()

    def admit(self) -> None:
        """Let a call through, or raise Unavailable when the circuit is open."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return
        self._refuse()

    def _refuse(self) -> NoReturn:
        wait = 0.0 if self._opened_at is None else self._reset - (self._clock() - self._opened_at)
        raise Unavailable(
            f"{self._name} unavailable (circuit open)",
            hint=f"{self._failures} calls in a row failed; the next try goes through "
            f"in {max(wait, 0.0):.0f}s. Check that the server is up and reachable.",
            retry_after=max(1, math.ceil(wait)),
        )

    def succeeded(self) -> None:
        """The backend answered: close the circuit."""
        was_open = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        self._trial_running = False
        if was_open and self._on_change is not None:
            self._on_change(False)

    def failed(self) -> None:
        """The backend did not answer (or answered that it is down)."""
        was_open = self._opened_at is not None
        self._failures += 1
        if self._trial_running or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_running = False
        if not was_open and self._opened_at is not None and self._on_change is not None:
            self._on_change(True)

    def abandoned(self) -> None:
        """An admitted call ended without telling either way (cancelled): free the trial."""
        self._trial_running = False
