"""Role-based table permissions from config: per role, per table id (or `*`), a rule.

`*` covers user tables only: Grist's `_grist_*` metadata tables are served
only to a role whose grant names them.

A table the role cannot read is invisible (404, as if absent). The users
table is special: its password column never leaves the gateway, and only
admins may write to it, whatever the config says. Row and column rules of a
table are applied by gateway/access.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from gristops.config import Config
from gristops.config.access import describe
from gristops.config.model import Action, TableRule
from gristops.errors import Forbidden, NotFound

ADMIN_ROLE = "admin"
METADATA_PREFIX = "_grist_"


def rule(
    roles: Mapping[str, Mapping[str, TableRule]], role: str, table_id: str
) -> TableRule | None:
    """The role's rule for `table_id`: its own entry, else the role's `*` entry (user tables only)."""
    rules = roles.get(role)
    if rules is None:
        return None
    found = rules.get(table_id)
    if found is None and not table_id.startswith(METADATA_PREFIX):
        # Grist's metadata tables (`_grist_ACLRules`, `_grist_Tables`, ...) describe the
        # document and its access rules: only a grant naming the table serves them.
        found = rules.get("*")
    return found


def allowed(
    roles: Mapping[str, Mapping[str, TableRule]], role: str, table_id: str, action: Action
) -> bool:
    """True when `role` may do `action` on `table_id`; a table's own entry overrides `*`."""
    found = rule(roles, role, table_id)
    return found is not None and action in found.actions


def check(config: Config, role: str, table_id: str, action: Action) -> TableRule:
    """The role's rule for the table; NotFound when it is invisible, Forbidden when not allowed."""
    found = rule(config.roles, role, table_id)
    if found is None or "read" not in found.actions:
        raise NotFound(f'Table not found "{table_id}"')
    if action == "read":
        return found
    if table_id == config.auth.users_table and role != ADMIN_ROLE:
        raise Forbidden(
            f"only admins may change the {table_id} table",
            "use `gristops users` or log in as an admin",
        )
    if action not in found.actions:
        raise Forbidden(
            f"role {role!r} may not {action} records of {table_id!r}",
            "ask an admin to grant it under roles: in gristops.yaml",
        )
    return found


def hidden_columns(config: Config, table_id: str) -> frozenset[str]:
    """Columns of `table_id` that are never returned, to anyone."""
    if table_id == config.auth.users_table:
        return frozenset({config.auth.users_table_schema.password_field})
    return frozenset()


def effective_rules(config: Config) -> list[dict[str, str]]:
    """Each role's rule per table as the gateway applies it, in words (for the status page)."""
    users, password = config.auth.users_table, config.auth.users_table_schema.password_field
    shown: list[dict[str, str]] = []
    for role, entries in sorted(config.roles.items()):
        for table_id, found in sorted(entries.items()):
            covers_users = table_id in (users, "*")
            writes = [a for a in found.actions if a != "read"]
            notes = []
            if covers_users:
                notes.append(f"{users}.{password} is never shown")
                if writes and role != ADMIN_ROLE:
                    notes.append(f"only admins write to {users}")
            shown.append(
                {
                    "role": role,
                    "table": table_id,
                    "actions": ", ".join(found.actions) or "none",
                    "rows": describe(found.rows) if found.rows is not None else "all rows",
                    "hidden": ", ".join(found.hidden),
                    "readonly": ", ".join(found.readonly),
                    "fill": ", ".join(found.fill),
                    "notes": "; ".join(notes),
                }
            )
    return shown
