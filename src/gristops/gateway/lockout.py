"""Login throttling: too many failures for one account or one client address lock it out.

Once `max_failures_per_*` failures fall within `failure_window`, attempts on
that key are refused (429) until `lockout` seconds after the last failure.
Failures keep counting within the window, so a key that keeps failing right
after its lockout ends is locked again at once. Counts live in the state DB,
so every gateway process sees the same ones.
"""

from __future__ import annotations

import math

from gristops.config.model import AuthSection
from gristops.state.throttle import FailureKey, LoginFailures


class LoginThrottle:
    def __init__(self, failures: LoginFailures, settings: AuthSection) -> None:
        self._failures = failures
        self._settings = settings

    @staticmethod
    def keys(email_digest: str, client: str) -> list[FailureKey]:
        return [FailureKey("account", email_digest), FailureKey("client", client)]

    def retry_after(self, keys: list[FailureKey], now: float) -> int:
        """Seconds until an attempt on these keys is allowed; 0 when it is allowed now."""
        s = self._settings
        wait = 0.0
        for key in keys:
            limit = (
                s.max_failures_per_account if key.scope == "account" else s.max_failures_per_client
            )
            seen = self._failures.count_since(key, now - s.failure_window)
            if seen.count >= limit and seen.last_at is not None:
                wait = max(wait, seen.last_at + s.lockout - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, keys: list[FailureKey], now: float) -> None:
        self._failures.record(keys, now)

    def succeeded(self, keys: list[FailureKey]) -> None:
        """Forget the account's failures. The client's stay: one valid login from an
        address must not wipe the record of it guessing other accounts' passwords."""
        for key in keys:
            if key.scope == "account":
                self._failures.clear(key)

    def prune(self, now: float) -> None:
        self._failures.prune(now - self._settings.failure_window)
