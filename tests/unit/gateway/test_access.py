"""Access rules in the config, bound to a user, and shown on the status page."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.config import parse_config
from gristops.config.access import describe, rule_problems
from gristops.errors import ConfigError
from gristops.gateway.permissions import effective_rules
from gristops.store.rows import RowAll, RowAny, RowEq, as_filters, holds
from tests.access_fixture import RULES, Caller, config_for, gateway


def test_the_short_form_and_the_rule_form_mean_the_same_actions(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    user = config.roles["user"]
    assert user["Products"].actions == ("read",) and not user["Products"].restricted
    orders = user["Orders"]
    assert orders.restricted and orders.fill == ("user",)
    assert describe(config.roles["clerk"]["Orders"].rows) == (  # type: ignore[arg-type]
        "rec.user == user.id or rec.note == user.display_name"
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("{rec: user, user: id, extra: 1}", "extra"),
        ("{any: []}", "any"),
        ("'rec.user == user.id'", "rows"),
        ("{rec: user}", "user"),
    ],
)
def test_malformed_row_conditions_are_refused_at_load(rows: str, message: str) -> None:
    text = f"grist: {{document_id: D}}\nroles:\n  admin: {{T: {{actions: [read], rows: {rows}}}}}\n"
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_fill_needs_a_column_every_visible_row_pins() -> None:
    text = (
        "grist: {document_id: D}\nroles:\n  admin: {T: {actions: [read], "
        "rows: {any: [{rec: a, user: id}, {rec: b, user: id}]}, fill: [a]}}\n"
    )
    with pytest.raises(ConfigError, match="fill: 'a' is not set by `rows`"):
        parse_config(text)


def test_conditions_hold_with_grist_filter_equality() -> None:
    rule = RowAny((RowEq("ward", "B"), RowAll((RowEq("owner", 7), RowEq("open", True)))))
    assert holds(rule, {"ward": "B"})
    assert holds(rule, {"owner": 7.0, "open": 1})
    assert not holds(rule, {"owner": "7", "open": True})
    assert not holds(rule, {"owner": 7})
    assert not holds(RowEq("tags", "x"), {"tags": ["L", "x"]})
    assert holds(RowEq("ward", None), {})


def test_conditions_become_grist_filters_merged_with_the_callers() -> None:
    rule = RowAll((RowEq("owner", 7), RowAny((RowEq("ward", "A"), RowEq("ward", "B")))))
    assert as_filters(rule) == [{"owner": [7], "ward": ["A"]}, {"owner": [7], "ward": ["B"]}]
    assert as_filters(rule, {"ward": ["B", "C"], "qty": [1]}) == [
        {"ward": ["B"], "qty": [1], "owner": [7]}
    ]
    assert as_filters(rule, {"owner": [8]}) == []
    assert as_filters(RowAll((RowEq("a", 1), RowEq("a", 2)))) == []


def test_status_data_shows_each_roles_effective_rules(tmp_path: Path) -> None:
    with gateway(tmp_path, "embedded") as client:
        admin, alice = Caller(client, "admin"), Caller(client, "alice")
        assert client.get("/status/data", headers=alice.headers).status_code == 403
        rules = client.get("/status/data", headers=admin.headers).json()["access"]
    by_key = {(r["role"], r["table"]): r for r in rules}
    orders = by_key[("user", "Orders")]
    assert orders["rows"] == "rec.user == user.id"
    assert (orders["hidden"], orders["readonly"], orders["fill"]) == ("total", "note", "user")
    assert by_key[("user", "Products")]["rows"] == "all rows"
    assert "never shown" in by_key[("admin", "*")]["notes"]
    assert effective_rules(config_for(tmp_path, rules=RULES)) == rules


def test_rule_problems_name_every_unknown_table_column_and_user_field() -> None:
    config = parse_config(
        "grist: {document_id: D}\nroles:\n"
        '  admin: {"*": [read, create, update, delete]}\n'
        "  user:\n"
        '    "*": {actions: [read], rows: {all: [{rec: owner, user: id}, {rec: ward, user: ward}]}}\n'
        "    Notes: {actions: [read, create], rows: {rec: owner, user: id}, fill: [owner]}\n"
        "    Gone: [read]\n"
    )
    tables = {
        "Users": {"email": False, "password_hash": False, "ward": False},
        "Notes": {"owner": True},
        "Orders": {"owner": False},
    }
    assert (
        describe(config.roles["user"]["*"].rows) == "rec.owner == user.id and rec.ward == user.ward"
    )  # type: ignore[arg-type]
    problems = rule_problems(config.roles, tables, "Users", "password_hash")
    assert problems == [
        "roles.user.*.rows: table 'Users' has no column 'owner'",
        "roles.user.*.rows: table 'Orders' has no column 'ward'",
        "roles.user.Notes.fill: 'owner' of 'Notes' is a formula column; it cannot be filled",
        "roles.user.Gone: the document has no table 'Gone'",
    ]
