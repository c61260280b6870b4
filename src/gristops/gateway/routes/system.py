"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from gristops.errors import GristopsError
from gristops.gateway.context import GatewayContext
from gristops.gateway.jsonbody import JSONBody

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Response:
    return JSONBody({"status": "ok"})


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="Readiness: the store answers and the state DB is writable",
)
async def ready(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    checks: dict[str, str] = {}
    try:
        with anyio.fail_after(5):
            await ctx.store.ping(ctx.config.grist.document_id)
        checks["store"] = "ok"
    except (GristopsError, TimeoutError) as exc:
        checks["store"] = f"failed: {exc or 'timed out'}"
    try:
        await anyio.to_thread.run_sync(ctx.state.check_writable)
        checks["state"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is shown
        checks["state"] = f"failed: {type(exc).__name__}: {exc}"
    ok = all(v == "ok" for v in checks.values())
    return JSONBody(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
