"""`gristops users add|passwd|disable|enable|set-role|delete|unlock|list`: the users table.

Rows are reached through the Store protocol, so this works on an embedded
`.grist` document and on a Grist server alike. Hashes are written as `$2b$`
at the configured `auth.bcrypt_rounds`; a password is never printed except a
generated one, once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio
import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, err, load, out
from gristops.config import Config
from gristops.errors import BadRequest, NotFound
from gristops.gateway.auth import email_digest
from gristops.gateway.passwords import check_email, check_strength, generate_password, make_hash
from gristops.state.db import StateDB
from gristops.state.sessions import RefreshSessions
from gristops.state.throttle import FailureKey, LoginFailures
from gristops.store.base import Record, RecordQuery, Store
from gristops.store.factory import open_store

app = typer.Typer(help="Manage users (bcrypt hashes in the users table).", no_args_is_help=True)

T = TypeVar("T")
EmailArg = Annotated[str, typer.Argument(help="The user's login email (case is ignored).")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def _run(config: Config, work: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = open_store(config)
        try:
            return await work(store)
        finally:
            await store.aclose()

    return anyio.run(main)


def _check_role(config: Config, role: str) -> None:
    if role not in config.roles:
        raise BadRequest(
            f"unknown role {role!r}",
            hint=f"use one of {', '.join(sorted(config.roles))}, or add it under roles: "
            f"in {config.source_path or 'gristops.yaml'}",
        )


def _read_stdin_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise BadRequest("no password on stdin", hint='pipe it in, e.g. printf %s "$PW" | ...')
    return line


def _hash(config: Config, password: str) -> str:
    rounds = config.auth.bcrypt_rounds
    with err.status(f"hashing the password (bcrypt cost {rounds})"):
        return make_hash(password, rounds)


async def find_user(config: Config, store: Store, email: str) -> Record | None:
    """The users-table row of `email` (case-insensitive); refuses when several rows match."""
    rows = await store.find_records(
        config.grist.document_id,
        config.auth.users_table,
        config.auth.users_table_schema.email_field,
        email,
        casefold=True,
    )
    if len(rows) > 1:
        ids = ", ".join(str(r["id"]) for r in rows)
        raise BadRequest(
            f"several users have the email {email} (rows {ids})",
            hint="nobody can log in with it; remove the duplicates in the users table",
        )
    return rows[0] if rows else None


async def _existing_user(config: Config, store: Store, email: str) -> Record:
    user = await find_user(config, store, email)
    if user is None:
        raise NotFound(f"no user with the email {email}", hint="`gristops users list` shows them")
    return user


def _revoke_sessions(config: Config, user_id: int, why: str) -> int:
    """Revoke the user's refresh tokens; without a state DB there are none to revoke."""
    if not config.has_state:
        return 0
    db = StateDB(config.state_location)
    try:
        return RefreshSessions(db).revoke_user(user_id, time.time(), why)
    finally:
        db.close()


def add_user(config: Config, email: str, role: str, password: str) -> int:
    """Add an active user with a bcrypt hash of `password`; refuses an email already present."""
    schema = config.auth.users_table_schema

    async def work(store: Store) -> int:
        existing = await find_user(config, store, email)
        if existing is not None:
            raise BadRequest(
                f"a user with the email {email} already exists (row {existing['id']})",
                hint="use `gristops users passwd` to change its password",
            )
        fields = {
            schema.email_field: email,
            schema.password_field: _hash(config, password),
            schema.role_field: role,
            schema.active_field: True,
        }
        [row_id] = await store.add_records(
            config.grist.document_id, config.auth.users_table, [fields]
        )
        return row_id

    return _run(config, work)


def remove_user(config: Config, user_id: int, why: str) -> None:
    """Delete a user's row and revoke its refresh tokens."""

    async def work(store: Store) -> None:
        await store.delete_records(config.grist.document_id, config.auth.users_table, [user_id])

    _run(config, work)
    _revoke_sessions(config, user_id, why)


@app.command()
def add(
    email: EmailArg,
    role: Annotated[str, typer.Option("--role", "-r", help="A role defined under roles:.")],
    password_stdin: StdinOption = False,
    config: ConfigOption = DEFAULT_CONFIG,
    json_out: JsonOption = False,
) -> None:
    """Add an active user; without --password-stdin a password is generated and shown once."""
    cfg = load(config)
    email = check_email(email)
    _check_role(cfg, role)
    generated = None if password_stdin else generate_password()
    password = generated or _read_stdin_password()
    check_strength(password)
    row_id = add_user(cfg, email, role, password)
    if json_out:
        emit_json({"id": row_id, "email": email, "role": role, "password": generated})
        return
    out.print(f"added user {row_id}: {email} ({role})")
    if generated:
        out.print(f"password (shown only now): {generated}")


@app.command()
def passwd(
    email: EmailArg,
    password_stdin: StdinOption = False,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate a password and show it once.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Set a user's password (prompted twice unless --password-stdin or --generate).

    The user's refresh tokens are revoked, so other devices must log in again.
    """
    cfg = load(config)
    if password_stdin and generate:
        raise BadRequest("--password-stdin and --generate exclude each other", hint="pick one")
    generated = generate_password() if generate else None
    if generated:
        password = generated
    elif password_stdin:
        password = _read_stdin_password()
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    check_strength(password)
    changes = {cfg.auth.users_table_schema.password_field: _hash(cfg, password)}
    user_id = _update_user(cfg, email, changes)
    revoked = _revoke_sessions(cfg, user_id, "password changed")
    out.print(f"password of user {user_id} changed; {revoked} login(s) ended")
    if generated:
        out.print(f"password (shown only now): {generated}")


def _update_user(cfg: Config, email: str, changes: dict[str, Any]) -> int:
    """Apply `changes` to the row of `email`; its row id."""

    async def work(store: Store) -> int:
        user = await _existing_user(cfg, store, email)
        await store.update_records(
            cfg.grist.document_id, cfg.auth.users_table, [{"id": user["id"], "fields": changes}]
        )
        return int(user["id"])

    return _run(cfg, work)


@app.command()
def disable(email: EmailArg, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Mark a user inactive and end their logins (refresh tokens are revoked at once)."""
    cfg = load(config)
    user_id = _update_user(cfg, email, {cfg.auth.users_table_schema.active_field: False})
    revoked = _revoke_sessions(cfg, user_id, "disabled")
    out.print(
        f"disabled user {user_id}; {revoked} login(s) ended; access tokens already issued "
        f"expire within {cfg.auth.access_token_ttl} s"
    )


@app.command()
def enable(email: EmailArg, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Mark a user active again: they can log in with their password."""
    cfg = load(config)
    user_id = _update_user(cfg, email, {cfg.auth.users_table_schema.active_field: True})
    out.print(f"enabled user {user_id}")


@app.command("set-role")
def set_role(
    email: EmailArg,
    role: Annotated[str, typer.Argument(help="A role defined under roles:.")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Give a user another role; their logins end so the new role applies at once."""
    cfg = load(config)
    _check_role(cfg, role)
    user_id = _update_user(cfg, email, {cfg.auth.users_table_schema.role_field: role})
    revoked = _revoke_sessions(cfg, user_id, "role changed")
    out.print(f"user {user_id} now has the role {role}; {revoked} login(s) ended")


@app.command()
def delete(
    email: EmailArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Delete a user's row and end their logins (asks first unless --yes)."""
    cfg = load(config)

    async def find(store: Store) -> int:
        return int((await _existing_user(cfg, store, email))["id"])

    user_id = _run(cfg, find)
    if not yes:
        typer.confirm(f"delete user {user_id} ({email})?", abort=True, err=True)

    async def work(store: Store) -> None:
        await store.delete_records(cfg.grist.document_id, cfg.auth.users_table, [user_id])

    _run(cfg, work)
    revoked = _revoke_sessions(cfg, user_id, "deleted")
    out.print(f"deleted user {user_id} ({email}); {revoked} login(s) ended")


@app.command()
def unlock(email: EmailArg, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Clear a login lockout of an account (its failed attempts are forgotten)."""
    cfg = load(config)
    email = check_email(email)
    if cfg.has_state:
        db = StateDB(cfg.state_location)
        try:
            LoginFailures(db).clear(FailureKey("account", email_digest(email)))
        finally:
            db.close()
    out.print(
        f"{email} can log in again; a locked client address unlocks by itself "
        f"{cfg.auth.lockout} s after its last failure"
    )


@app.command("list")
def list_users(config: ConfigOption = DEFAULT_CONFIG, json_out: JsonOption = False) -> None:
    """List users: id, email, role, active (never the password hashes)."""
    cfg = load(config)
    schema = cfg.auth.users_table_schema

    async def work(store: Store) -> list[Record]:
        return await store.fetch_records(cfg.grist.document_id, cfg.auth.users_table, RecordQuery())

    users: list[dict[str, Any]] = [
        {
            "id": r["id"],
            "email": r["fields"].get(schema.email_field),
            "role": r["fields"].get(schema.role_field),
            "active": bool(r["fields"].get(schema.active_field)),
        }
        for r in _run(cfg, work)
    ]
    if json_out:
        emit_json(users)
        return
    width = max((len(str(u["email"])) for u in users), default=5)
    out.print(f"{'id':>4}  {'email':<{width}}  {'role':<10}  active")
    for u in users:
        active = "yes" if u["active"] else "no"
        out.print(f"{u['id']:>4}  {u['email']!s:<{width}}  {u['role']!s:<10}  {active}")
