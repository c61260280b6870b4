"""Access rules per role and table: actions, row conditions, hidden and read-only columns.

A table's entry under `roles:` is either a list of actions (the whole table)
or a mapping that adds rules:

    Orders:
      actions: [read, create, update]
      rows: {rec: customer, user: id}          # rec.customer == user.id
      hidden: [cost]                           # never returned, not filterable
      readonly: [status]                       # writes to it are refused
      fill: [customer]                         # creates without it get user.id

Row conditions are data, never code: a leaf `{rec: <column>, user: <field>}`
holds when the record's column equals the user's field (their row in the
users table; `id` is the row id), and `{all: [...]}` / `{any: [...]}` combine
conditions. Values compare as Grist's filter does (exact, `15` equals `15.0`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from gristops.config.section import Section

Action = Literal["read", "create", "update", "delete"]
ALL_ACTIONS: tuple[Action, ...] = ("read", "create", "update", "delete")
USER_ID = "id"


class Match(Section):
    """`rec.<rec> == user.<user>`."""

    rec: str = Field(..., min_length=1, description="Column of the record.")
    user: str = Field(..., min_length=1, description="Field of the user's row (`id`: row id).")


class AllOf(Section):
    """Every condition holds."""

    all: tuple[Condition, ...] = Field(..., min_length=1)


class AnyOf(Section):
    """At least one condition holds."""

    any: tuple[Condition, ...] = Field(..., min_length=1)


Condition = Match | AllOf | AnyOf
AllOf.model_rebuild()
AnyOf.model_rebuild()


def leaves(condition: Condition) -> Iterator[Match]:
    """Every `rec == user` comparison in the condition."""
    if isinstance(condition, Match):
        yield condition
        return
    for term in condition.all if isinstance(condition, AllOf) else condition.any:
        yield from leaves(term)


def required(condition: Condition) -> dict[str, str]:
    """Record columns the condition pins to one user field whatever else holds: rec -> user."""
    if isinstance(condition, Match):
        return {condition.rec: condition.user}
    if isinstance(condition, AllOf):
        pinned: dict[str, str] = {}
        for term in condition.all:
            pinned.update(required(term))
        return pinned
    return {}


def describe(condition: Condition) -> str:
    """The condition in Grist's own words, e.g. `rec.customer == user.id and ...`."""
    if isinstance(condition, Match):
        return f"rec.{condition.rec} == user.{condition.user}"
    if isinstance(condition, AllOf):
        return " and ".join(_grouped(term) for term in condition.all)
    return " or ".join(_grouped(term) for term in condition.any)


def _grouped(condition: Condition) -> str:
    text = describe(condition)
    return text if isinstance(condition, Match) else f"({text})"


class TableRule(Section):
    """What one role may do with one table (or with every table, under `*`)."""

    actions: tuple[Action, ...] = Field(..., description="read, create, update, delete.")
    rows: Condition | None = Field(
        None, description="Only rows where this holds exist for the role (see docs/gateway.md)."
    )
    hidden: tuple[str, ...] = Field((), description="Columns never shown to the role.")
    readonly: tuple[str, ...] = Field((), description="Columns the role may not write.")
    fill: tuple[str, ...] = Field(
        (), description="Columns of `rows` filled with the user's value when a create omits them."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        # The short form: a plain list of actions grants the whole table.
        return {"actions": value} if isinstance(value, list | tuple) else value

    @model_validator(mode="after")
    def _fill_is_pinned(self) -> TableRule:
        pinned = required(self.rows) if self.rows is not None else {}
        for column in self.fill:
            if column not in pinned:
                raise ValueError(
                    f"fill: {column!r} is not set by `rows` for every record "
                    f"(fill needs a rows condition rec.{column} == user.<field>, "
                    "alone or inside all:)"
                )
        return self

    @property
    def restricted(self) -> bool:
        """True when the rule narrows rows or columns, beyond the actions."""
        return bool(self.rows is not None or self.hidden or self.readonly)


def full_access() -> TableRule:
    return TableRule(actions=ALL_ACTIONS)


def rule_problems(
    roles: Mapping[str, Mapping[str, TableRule]],
    tables: Mapping[str, Mapping[str, bool]],
    users_table: str,
    password_field: str,
) -> list[str]:
    """Every problem of the rules against a document's schema, one line each.

    `tables` maps each table id to its columns (column id -> is a formula). A
    `*` entry is checked against every table it applies to.
    """
    user_fields = set(tables.get(users_table, {})) | {USER_ID}
    problems: list[str] = []
    for role, entries in roles.items():
        for table_id, rule in entries.items():
            where = f"roles.{role}.{table_id}"
            if table_id != "*" and table_id not in tables:
                problems.append(f"{where}: the document has no table {table_id!r}")
                continue
            targets = [t for t in tables if t not in entries] if table_id == "*" else [table_id]
            for target in targets:
                problems.extend(_column_problems(where, target, rule, tables[target]))
            for match in leaves(rule.rows) if rule.rows is not None else ():
                if match.user == password_field or match.user not in user_fields:
                    problems.append(
                        f"{where}.rows: user.{match.user} is not a field of the users table "
                        f"{users_table!r} (use id or one of its columns but the password)"
                    )
    return problems


def _column_problems(
    where: str, table_id: str, rule: TableRule, columns: Mapping[str, bool]
) -> Iterator[str]:
    named = [("rows", m.rec) for m in (leaves(rule.rows) if rule.rows is not None else ())]
    named += [
        (key, column) for key in ("hidden", "readonly", "fill") for column in getattr(rule, key)
    ]
    for key, column in named:
        if column != USER_ID and column not in columns:
            yield f"{where}.{key}: table {table_id!r} has no column {column!r}"
        elif key == "fill" and columns.get(column):
            yield f"{where}.fill: {column!r} of {table_id!r} is a formula column; it cannot be filled"
