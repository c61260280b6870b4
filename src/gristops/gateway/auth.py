"""Server-side login against the users table, rotating refresh tokens, and who is calling.

An unknown email, a wrong password, an inactive user and a user whose role is
not configured all get the same answer after the same bcrypt work, so the
answer does not tell which emails exist. Every outcome is written to the
audit trail and counted in the auth metrics; passwords and tokens never are.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import anyio.to_thread
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gristops.config import Config
from gristops.config.model import UsersTableSchema
from gristops.errors import (
    AuthError,
    BadRequest,
    ExpiredToken,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from gristops.gateway.hashing import HashingBudget, machine_budget
from gristops.gateway.lockout import LoginThrottle
from gristops.gateway.passwords import check_password, is_bcrypt_hash, make_hash
from gristops.gateway.tokens import TokenService
from gristops.gateway.workers import available_cpus, runs_dir
from gristops.observe.metrics import GatewayMetrics
from gristops.state.audit import AuthAudit, AuthEvent
from gristops.state.db import StateDB
from gristops.state.sessions import RefreshSessions
from gristops.state.throttle import LoginFailures
from gristops.store.base import Record, Store

if TYPE_CHECKING:
    from gristops.gateway.context import GatewayContext

log = structlog.get_logger(__name__)
T = TypeVar("T")

BAD_CREDENTIALS = "invalid email or password"
_REFRESH_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from a verified access token."""

    user_id: int
    email: str
    role: str


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, for throttling and the audit trail."""

    address: str = "unknown"
    request_id: str | None = None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_digest(email: str) -> str:
    """The key an email is known by in throttling and audit rows."""
    return digest(email.strip().casefold())


class AuthService:
    """Logins, refreshes and logouts for one gateway app."""

    def __init__(
        self,
        config: Config,
        store: Store,
        state: StateDB,
        tokens: TokenService,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._tokens = tokens
        self._metrics = metrics
        self._clock = clock
        self._sessions = RefreshSessions(state, config.auth.refresh_retry_window)
        self._audit_trail = AuthAudit(state)
        self._throttle = LoginThrottle(LoginFailures(state), config.auth)
        self._dummy_hash: str | None = None
        self._pruned_at = 0.0
        # bcrypt may use all cores but one, across every worker: a login storm must not
        # starve reads.
        self._hashing = HashingBudget(runs_dir(config), machine_budget(available_cpus()))

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Check the credentials against the users table and open a refresh-token family."""
        now = self._clock()
        account = email_digest(email)
        keys = self._throttle.keys(account, client.address)
        await self._housekeep(now)
        wait = await _run(self._throttle.retry_after, keys, now)
        if wait:
            await self._audit("login", "throttled", client, email_hash=account)
            raise TooManyRequests(
                "too many failed logins; try again later",
                hint=f"wait {wait} seconds before the next attempt",
                retry_after=wait,
            )
        user = await self._find_user(email.strip())
        stored = user["fields"].get(self._fields.password_field) if user else None
        if not is_bcrypt_hash(stored):
            stored = await self._dummy()  # same work as for a real user: no timing oracle
        matches = await self._hashing.run(partial(check_password, password, str(stored)))
        refusal = self._refusal(user) if user and matches else "bad_credentials"
        user_id = user["id"] if user else None
        if refusal:
            await _run(self._throttle.failed, keys, now)
            await self._audit("login", refusal, client, user_id=user_id, email_hash=account)
            raise AuthError(BAD_CREDENTIALS, hint="check the email and password")
        assert user is not None
        await _run(self._throttle.succeeded, keys)
        refresh_token = secrets.token_urlsafe(32)
        await _run(
            self._sessions.start,
            secrets.token_urlsafe(16),
            user["id"],
            digest(refresh_token),
            now,
            now + self._config.auth.refresh_token_ttl,
        )
        await self._audit("login", "success", client, user_id=user["id"], email_hash=account)
        return self._pair(user, refresh_token)

    async def refresh(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Spend a refresh token for a new pair; a token spent twice revokes its family."""
        now = self._clock()
        if not _REFRESH_TOKEN.match(refresh_token):
            await self._audit("refresh", "malformed", client)
            raise AuthError("invalid or expired refresh token", hint="log in again")
        successor = secrets.token_urlsafe(32)
        expires_at = now + self._config.auth.refresh_token_ttl
        rotation = await _run(
            self._sessions.rotate, digest(refresh_token), digest(successor), now, expires_at
        )
        if rotation.status == "reused":
            await self._audit("refresh", "reuse_detected", client, user_id=rotation.user_id)
            raise AuthError(
                "refresh token was already used; every session of that login is now revoked",
                hint="log in again; if you did not reuse the token, it may have been stolen",
            )
        if rotation.status != "rotated":
            await self._audit("refresh", rotation.status, client, user_id=rotation.user_id)
            raise AuthError("invalid or expired refresh token", hint="log in again")
        assert rotation.user_id is not None and rotation.family_id is not None
        user = await self._user_by_id(rotation.user_id)
        refusal = self._refusal(user) if user else "deleted"
        if refusal:
            await _run(self._sessions.revoke_family, rotation.family_id, now, refusal)
            await self._audit("refresh", refusal, client, user_id=rotation.user_id)
            raise AuthError("invalid or expired refresh token", hint="log in again")
        assert user is not None
        await self._audit("refresh", "success", client, user_id=user["id"])
        return self._pair(user, successor)

    async def logout(self, refresh_token: str, client: ClientInfo | None = None) -> None:
        """Revoke the refresh-token family; unknown tokens are ignored (logout is idempotent)."""
        client = client or ClientInfo()
        user_id = None
        if _REFRESH_TOKEN.match(refresh_token):
            user_id = await _run(
                self._sessions.revoke_by_token, digest(refresh_token), self._clock(), "logout"
            )
        outcome = "success" if user_id is not None else "unknown"
        await self._audit("logout", outcome, client, user_id=user_id)

    def principal_from_header(self, authorization: str | None) -> Principal:
        """The caller of a request with `Authorization: Bearer <access token>`."""
        outcome = "invalid"
        try:
            if not authorization:
                outcome = "missing"
                raise AuthError(
                    "authentication required: send Authorization: Bearer <access token>",
                    hint="get a token with POST /auth/login",
                )
            scheme, _, credentials = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise AuthError(
                    "unsupported Authorization scheme, expected 'Bearer'",
                    hint="send Authorization: Bearer <access token>",
                )
            claims = self._tokens.verify(credentials.strip())
            if claims.role not in self._config.roles:
                outcome = "unknown_role"
                raise Forbidden(
                    f"role {claims.role!r} is not configured", hint="ask an administrator"
                )
        except ExpiredToken:
            self._metrics.auth_outcomes.labels("access", "expired").inc()
            raise
        except (AuthError, Forbidden):
            self._metrics.auth_outcomes.labels("access", outcome).inc()
            raise
        self._metrics.auth_outcomes.labels("access", "success").inc()
        return Principal(claims.user_id, claims.email, claims.role)

    @property
    def _fields(self) -> UsersTableSchema:
        return self._config.auth.users_table_schema

    async def _find_user(self, email: str) -> Record | None:
        try:
            rows = await self._store.find_records(
                self._config.grist.document_id,
                self._config.auth.users_table,
                self._fields.email_field,
                email,
                casefold=True,
            )
        except (NotFound, BadRequest) as exc:
            # A missing document, table or column is the operator's to fix, not the client's.
            log.error("auth.users_table_unusable", error=exc.message)
            raise Unavailable(
                "login is unavailable: the users table cannot be read",
                hint="check grist.document_id, auth.users_table and auth.users_table_schema",
            ) from exc
        if len(rows) > 1:
            # Two rows for one email: logging in as either would be a guess.
            log.warning("auth.ambiguous_email", rows=[r["id"] for r in rows])
            return None
        return rows[0] if rows else None

    async def _user_by_id(self, user_id: int) -> Record | None:
        try:
            return await self._store.fetch_record(
                self._config.grist.document_id, self._config.auth.users_table, user_id
            )
        except NotFound:
            return None

    def _refusal(self, user: Record) -> str | None:
        """Why a user whose credentials are right may still not have tokens, or None."""
        fields = user["fields"]
        if fields.get(self._fields.active_field) not in (True, 1):
            return "inactive"
        if fields.get(self._fields.role_field) not in self._config.roles:
            log.warning("auth.unknown_role", user_id=user["id"])
            return "unknown_role"
        if not isinstance(fields.get(self._fields.email_field), str):
            return "bad_credentials"
        return None

    def _pair(self, user: Record, refresh_token: str) -> TokenPair:
        fields = user["fields"]
        access = self._tokens.issue(
            user["id"], fields[self._fields.email_field], fields[self._fields.role_field]
        )
        return TokenPair(
            access.token, access.expires_in, refresh_token, self._config.auth.refresh_token_ttl
        )

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            secret = secrets.token_urlsafe(16)
            self._dummy_hash = await _run(make_hash, secret, self._config.auth.bcrypt_rounds)
        return self._dummy_hash

    async def _housekeep(self, now: float) -> None:
        """Now and then, forget expired refresh tokens and old failures."""
        if now - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = now
            await _run(self._sessions.prune, now)
            await _run(self._throttle.prune, now)

    async def _audit(
        self,
        event: str,
        outcome: str,
        client: ClientInfo,
        user_id: int | None = None,
        email_hash: str | None = None,
    ) -> None:
        row = AuthEvent(
            self._clock(), event, outcome, user_id, email_hash, client.address, client.request_id
        )
        await _run(self._audit_trail.record, row)
        self._metrics.auth_outcomes.labels(event, outcome).inc()
        log.info("auth", auth_event=event, outcome=outcome, user_id=user_id, client=client.address)


async def _run(func: Callable[..., T], *args: Any) -> T:
    """Run blocking work (bcrypt, the state DB) in a worker thread."""
    return await anyio.to_thread.run_sync(partial(func, *args))


# Declares the bearer scheme in the OpenAPI document, so /api/docs has an Authorize
# button; the header itself is checked below, with the gateway's own errors.
bearer_scheme = HTTPBearer(
    auto_error=False, description="The access_token that POST /auth/login returns."
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def require_principal(request: Request, _declared: Bearer = None) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401 AuthError."""
    ctx: GatewayContext = request.app.state.ctx
    principal = ctx.auth.principal_from_header(request.headers.get("authorization"))
    request.state.user_id = principal.user_id  # the access log line names the caller
    return principal
