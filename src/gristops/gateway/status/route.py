"""`/status`: the operations status page, and `/status/data`, what it shows (admins only).

Besides operations it shows each role's effective access rules.

The page itself (HTML, JS, CSS from package data) holds no data, so anyone
may load it; it asks for an admin login and then reads `/status/data` with
the access token in the Authorization header. A strict Content-Security-Policy
allows nothing but this origin's own files.

The charts draw the per-minute history in the state DB (status/history.py),
which one worker of the gateway samples while the app runs, and the worker
answering the page just before.
"""

from __future__ import annotations

import time
from importlib.resources import files
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from gristops import __version__
from gristops.errors import Forbidden, GristopsError, NotFound
from gristops.gateway.auth import Principal, require_principal
from gristops.gateway.context import GatewayContext
from gristops.gateway.jsonbody import JSONBody
from gristops.gateway.permissions import effective_rules
from gristops.gateway.schemas import error_responses
from gristops.gateway.status.data import FAILED, OK, ops_components, recent_errors
from gristops.gateway.status.history import RequestHistory, read_totals
from gristops.gateway.status.ops import ops_data

ADMIN_ROLE = "admin"
CHART_MINUTES = 180
CHART_MIN_MINUTES = 30
_ASSETS = {"status.js": "text/javascript", "status.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _history(app: FastAPI) -> RequestHistory:
    history: RequestHistory = app.state.status_history
    return history


router = APIRouter(tags=["status"])


async def require_admin(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    if principal.role != ADMIN_ROLE:
        raise Forbidden("the status page is for admins", hint="log in as a user with role admin")
    return principal


def _asset(name: str) -> bytes:
    return files("gristops.gateway.status").joinpath("static", name).read_bytes()


@router.get("/status", response_class=Response, include_in_schema=False)
async def page() -> Response:
    return Response(_asset("status.html"), media_type="text/html", headers=_HEADERS)


@router.get(
    "/status/data",
    responses=error_responses(401, 403),
    summary="Health of each component, request history, operations and recent errors (admins)",
)
async def data(request: Request, _: Annotated[Principal, Depends(require_admin)]) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    now = time.time()
    history = _history(request.app)
    # Up to now, not to the last sample: the page shows the request that loaded it.
    await anyio.to_thread.run_sync(lambda: history.record(read_totals(ctx.metrics.registry), now))
    span = await anyio.to_thread.run_sync(history.span, now, CHART_MIN_MINUTES, CHART_MINUTES)
    requests = await anyio.to_thread.run_sync(history.series, now, span)
    ops = await anyio.to_thread.run_sync(ops_data, ctx.config, ctx.state, now)
    errors = await anyio.to_thread.run_sync(recent_errors, ctx.config, now)
    body: dict[str, Any] = {
        "generated_at": now,
        "version": __version__,
        "components": [*await _core_components(ctx), *ops_components(ctx.config, ops, now)],
        "requests": requests,
        "ops": ops,
        "errors": errors,
        "access": effective_rules(ctx.config),
    }
    return JSONBody(body, headers={"Cache-Control": "no-store"})


@router.get("/status/{asset}", response_class=Response, include_in_schema=False)
async def asset(asset: str) -> Response:
    if asset not in _ASSETS:
        raise NotFound(f"not found: /status/{asset}")
    return Response(_asset(asset), media_type=_ASSETS[asset], headers=_HEADERS)


async def _core_components(ctx: GatewayContext) -> list[dict[str, str]]:
    """The store and the state DB, checked now (as /ready does)."""
    checks = []
    try:
        with anyio.fail_after(5):
            await ctx.store.ping(ctx.config.grist.document_id)
        checks.append({"name": "store", "status": OK, "detail": "answers"})
    except (GristopsError, TimeoutError) as exc:
        checks.append({"name": "store", "status": FAILED, "detail": str(exc) or "timed out"})
    try:
        await anyio.to_thread.run_sync(ctx.state.check_writable)
        checks.append({"name": "state DB", "status": OK, "detail": "writable"})
    except GristopsError as exc:
        checks.append({"name": "state DB", "status": FAILED, "detail": exc.message})
    return checks
