"""Login-failure counts and the auth audit trail in the state DB."""

from __future__ import annotations

from pathlib import Path

from gristops.state.audit import AuthAudit, AuthEvent
from gristops.state.db import StateDB
from gristops.state.throttle import FailureKey, LoginFailures


def test_failures_are_counted_per_key_within_a_window_and_can_be_cleared(
    state_location: Path | str,
) -> None:
    failures = LoginFailures(StateDB(state_location))
    account, client = FailureKey("account", "d1"), FailureKey("client", "10.0.0.9")
    failures.record([account, client], now=10)
    failures.record([account, client], now=20)
    failures.record([client], now=30)
    assert (failures.count_since(account, 0).count, failures.count_since(client, 0).count) == (2, 3)
    assert failures.count_since(client, 15).count == 2
    assert failures.count_since(client, 0).last_at == 30
    assert failures.count_since(FailureKey("account", "other"), 0).count == 0
    failures.clear(account)
    assert failures.count_since(account, 0).count == 0
    assert failures.count_since(client, 0).count == 3
    failures.prune(before=25)
    assert failures.count_since(client, 0).count == 1


def test_audit_events_come_back_newest_first(state_location: Path | str) -> None:
    audit = AuthAudit(StateDB(state_location))
    audit.record(AuthEvent(1.0, "login", "bad_credentials", None, "e" * 64, "10.0.0.1", "r1"))
    audit.record(AuthEvent(2.0, "login", "success", 3, "e" * 64, "10.0.0.1", "r2"))
    events = audit.recent()
    assert [(e.outcome, e.user_id, e.request_id) for e in events] == [
        ("success", 3, "r2"),
        ("bad_credentials", None, "r1"),
    ]
    assert len(audit.recent(limit=1)) == 1
