"""One caller's access to one table: the role's rule bound to the user's own values.

`rows` is the row condition with the user's values in place (the store runs
it as part of its query); `hidden` columns never appear in answers nor in
filter or sort; `readonly` columns (the rule's read-only and hidden ones)
cannot be written; `fill` holds the values
a create gets for the owner columns it leaves out.

The user's values come from their row in the users table, read once per
request and only when a rule names a field other than `id`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gristops.config import Config
from gristops.config.access import USER_ID, AllOf, Condition, Match, TableRule, leaves, required
from gristops.config.model import Action
from gristops.errors import AuthError, BadRequest, Forbidden, NotFound
from gristops.gateway import permissions
from gristops.gateway.auth import Principal
from gristops.store.base import JSON, Record, RecordQuery, Store
from gristops.store.rows import RowAll, RowAny, RowCondition, RowEq, holds

RULE_HINT = "your role's access rule limits which rows and columns you see and change"


@dataclass(frozen=True)
class Access:
    """What one caller may see and change in one table (see the module doc)."""

    table_id: str
    rows: RowCondition | None = None
    hidden: frozenset[str] = frozenset()
    readonly: frozenset[str] = frozenset()
    fill: Mapping[str, JSON] = field(default_factory=dict)

    def check_query(self, query: RecordQuery) -> None:
        """A hidden column cannot be probed through filter or sort."""
        used = set(query.filter or ()) | {key.column for key in query.sort}
        for column in sorted(used & self.hidden):
            raise BadRequest(
                f'Invalid column "{column}"', "that column cannot be read through the gateway"
            )

    def strip(self, records: list[Record]) -> list[Record]:
        """The records without the hidden columns."""
        if self.hidden:
            for record in records:
                for column in self.hidden:
                    record["fields"].pop(column, None)
        return records

    def check_writes(self, names: Iterable[str]) -> None:
        """Forbidden naming the first column of a write the caller may not write."""
        for name in names:
            if name in self.readonly:
                what = "hidden" if name in self.hidden else "read-only"
                raise Forbidden(
                    f'column "{name}" of "{self.table_id}" is {what} for your role', RULE_HINT
                )

    def filled(self, fields: Mapping[str, JSON]) -> dict[str, JSON]:
        """A new record's fields with the owner columns it leaves out filled in."""
        return {**{k: v for k, v in self.fill.items() if k not in fields}, **fields}

    def check_new(self, records: list[dict[str, JSON]]) -> None:
        """Forbidden when a record to create would be outside the caller's rows."""
        if self.rows is None:
            return
        for index, fields in enumerate(records):
            if not holds(self.rows, fields):
                raise Forbidden(
                    f'record {index + 1} would not be among the rows of "{self.table_id}" '
                    "you may change",
                    f"set its owner columns to your own values ({RULE_HINT})",
                )


def _bind(condition: Condition, user: Mapping[str, JSON]) -> RowCondition:
    if isinstance(condition, Match):
        return RowEq(condition.rec, user.get(condition.user))
    if isinstance(condition, AllOf):
        return RowAll(tuple(_bind(term, user) for term in condition.all))
    return RowAny(tuple(_bind(term, user) for term in condition.any))


async def _user_values(
    config: Config, store: Store, principal: Principal, rule: TableRule
) -> dict[str, JSON]:
    """The user's fields the rule names (their row id always)."""
    values: dict[str, JSON] = {USER_ID: principal.user_id}
    if rule.rows is None or all(m.user == USER_ID for m in leaves(rule.rows)):
        return values
    try:
        row = await store.fetch_record(
            config.grist.document_id, config.auth.users_table, principal.user_id, hidden=True
        )
    except NotFound:
        raise AuthError("your user no longer exists", "log in again") from None
    return {**row["fields"], **values}


async def access_for(
    config: Config, store: Store, principal: Principal, table_id: str, action: Action
) -> Access:
    """The caller's access to the table for `action`; NotFound or Forbidden as permissions says."""
    rule = permissions.check(config, principal.role, table_id, action)
    hidden = permissions.hidden_columns(config, table_id) | frozenset(rule.hidden)
    if not rule.restricted:
        return Access(table_id, hidden=hidden)
    user = await _user_values(config, store, principal, rule)
    rows = _bind(rule.rows, user) if rule.rows is not None else None
    pinned = required(rule.rows) if rule.rows is not None else {}
    fill = {column: user.get(pinned[column]) for column in rule.fill}
    # The users table's password stays writable by admins: only the rule's columns are refused.
    readonly = frozenset(rule.readonly) | frozenset(rule.hidden)
    return Access(table_id, rows, hidden, readonly, fill)
