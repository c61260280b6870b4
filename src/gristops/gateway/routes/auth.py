"""`/auth/*`: log in, refresh, log out, and who am I.

Token answers carry `Cache-Control: no-store` (RFC 6749 §5.1) so no proxy or
browser cache keeps them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from gristops.gateway.auth import ClientInfo, Principal, TokenPair, require_principal
from gristops.gateway.context import GatewayContext
from gristops.gateway.schemas import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])

CurrentUser = Annotated[Principal, Depends(require_principal)]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class LoginBody(BaseModel):
    email: str = Field(..., min_length=1, max_length=320, examples=["alice@example.com"])
    password: str = Field(..., min_length=1, max_length=1024)


class RefreshBody(BaseModel):
    refresh_token: str = Field(..., min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str = Field(..., description="Send as `Authorization: Bearer <access_token>`.")
    token_type: str = Field("bearer")
    expires_in: int = Field(..., description="Seconds the access token is valid.")
    refresh_token: str = Field(..., description="Single use: each refresh returns a new one.")
    refresh_expires_in: int = Field(..., description="Seconds the refresh token is valid.")


class MeOut(BaseModel):
    id: int
    email: str
    role: str
    permissions: dict[str, list[str]] = Field(
        ..., description="Per table id (or `*` for any other table): the allowed actions."
    )


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


def _client(request: Request) -> ClientInfo:
    # Behind nginx this is the proxy's address unless uvicorn trusts X-Forwarded-For
    # (--proxy-headers with --forwarded-allow-ips set to the proxy).
    address = request.client.host if request.client else "unknown"
    return ClientInfo(address, getattr(request.state, "request_id", None))


def _tokens(pair: TokenPair, response: Response) -> TokenOut:
    response.headers.update(_NO_STORE)
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses=error_responses(400, 401, 429, 503),
    summary="Log in with email and password; returns an access and a refresh token",
)
async def login(body: LoginBody, request: Request, response: Response) -> TokenOut:
    pair = await _ctx(request).auth.login(body.email, body.password, _client(request))
    return _tokens(pair, response)


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses=error_responses(400, 401, 503),
    summary="Trade a refresh token for a new pair (the old refresh token is spent)",
)
async def refresh(body: RefreshBody, request: Request, response: Response) -> TokenOut:
    pair = await _ctx(request).auth.refresh(body.refresh_token, _client(request))
    return _tokens(pair, response)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 503),
    summary="End the login the refresh token belongs to (unknown tokens are ignored)",
)
async def logout(body: RefreshBody, request: Request) -> Response:
    await _ctx(request).auth.logout(body.refresh_token, _client(request))
    return Response(status_code=204)


@router.get(
    "/me",
    response_model=MeOut,
    responses=error_responses(401, 403),
    summary="The logged-in user and what their role may do",
)
async def me(user: CurrentUser, request: Request) -> MeOut:
    rules = _ctx(request).config.roles.get(user.role, {})
    return MeOut(
        id=user.user_id,
        email=user.email,
        role=user.role,
        permissions={table: list(rule.actions) for table, rule in rules.items()},
    )
