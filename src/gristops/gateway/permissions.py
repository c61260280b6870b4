"""Role-based table permissions from config: per role, per table id (or `*`), actions.

A table the role cannot read is invisible (404, as if absent). The users
table is special: its password column never leaves the gateway, and only
admins may write to it, whatever the config says.
"""

from __future__ import annotations

from collections.abc import Mapping

from gristops.config import Config
from gristops.config.model import Action
from gristops.errors import Forbidden, NotFound

ADMIN_ROLE = "admin"


def allowed(
    roles: Mapping[str, Mapping[str, tuple[Action, ...]]], role: str, table_id: str, action: Action
) -> bool:
    """True when `role` may do `action` on `table_id`; a table's own entry overrides `*`."""
    rules = roles.get(role)
    if rules is None:
        return False
    actions = rules.get(table_id, rules.get("*", ()))
    return action in actions


def check(config: Config, role: str, table_id: str, action: Action) -> None:
    """Raise NotFound when the table is invisible to the role, Forbidden when the action is not allowed."""
    if not allowed(config.roles, role, table_id, "read"):
        raise NotFound(f'Table not found "{table_id}"')
    if action == "read":
        return
    if table_id == config.auth.users_table and role != ADMIN_ROLE:
        raise Forbidden(
            f"only admins may change the {table_id} table",
            "use `gristops users` or log in as an admin",
        )
    if not allowed(config.roles, role, table_id, action):
        raise Forbidden(
            f"role {role!r} may not {action} records of {table_id!r}",
            "ask an admin to grant it under roles: in gristops.yaml",
        )


def hidden_columns(config: Config, table_id: str) -> frozenset[str]:
    """Columns of `table_id` that are never returned, to anyone."""
    if table_id == config.auth.users_table:
        return frozenset({config.auth.users_table_schema.password_field})
    return frozenset()
