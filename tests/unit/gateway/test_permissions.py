"""Role permissions: table entries override `*`, invisible tables are 404, users table is admin-only."""

from __future__ import annotations

import pytest

from gristops.config import parse_config
from gristops.errors import Forbidden, NotFound
from gristops.gateway.permissions import allowed, check, hidden_columns

CONFIG = parse_config(
    """
grist: {document_id: Shop}
roles:
  admin: {"*": [read, create, update, delete]}
  manager: {"*": [read, create, update], Users: [read, create, update, delete]}
  user: {Products: [read], Orders: [read, create]}
  auditor: {"*": [read], Secrets: []}
  structure: {"*": [read], _grist_Tables: [read]}
"""
)


def test_table_entry_overrides_star() -> None:
    assert allowed(CONFIG.roles, "auditor", "Products", "read")
    assert not allowed(CONFIG.roles, "auditor", "Secrets", "read")


@pytest.mark.parametrize("table", ["_grist_ACLRules", "_grist_Tables", "_grist_Tables_column"])
def test_star_never_grants_grist_metadata_tables(table: str) -> None:
    for action in ("read", "create", "update", "delete"):
        assert not allowed(CONFIG.roles, "admin", table, action)
    with pytest.raises(NotFound, match=f'Table not found "{table}"'):
        check(CONFIG, "admin", table, "read")


def test_metadata_table_granted_by_name_is_served() -> None:
    assert allowed(CONFIG.roles, "structure", "_grist_Tables", "read")
    assert not allowed(CONFIG.roles, "structure", "_grist_Tables", "update")
    assert not allowed(CONFIG.roles, "structure", "_grist_ACLRules", "read")


def test_unknown_role_may_do_nothing() -> None:
    assert not allowed(CONFIG.roles, "ghost", "Products", "read")
    with pytest.raises(NotFound, match='Table not found "Products"'):
        check(CONFIG, "ghost", "Products", "read")


def test_table_without_read_is_invisible() -> None:
    with pytest.raises(NotFound, match='Table not found "Suppliers"'):
        check(CONFIG, "user", "Suppliers", "create")


def test_readable_table_without_the_action_is_forbidden() -> None:
    check(CONFIG, "user", "Orders", "create")
    with pytest.raises(Forbidden, match="role 'user' may not delete records of 'Orders'"):
        check(CONFIG, "user", "Orders", "delete")


def test_users_table_writes_are_for_admins_whatever_the_config_says() -> None:
    check(CONFIG, "manager", "Users", "read")
    with pytest.raises(Forbidden, match="only admins"):
        check(CONFIG, "manager", "Users", "update")
    check(CONFIG, "admin", "Users", "delete")


def test_password_column_is_hidden_only_in_the_users_table() -> None:
    assert hidden_columns(CONFIG, "Users") == {"password_hash"}
    assert hidden_columns(CONFIG, "Products") == frozenset()
