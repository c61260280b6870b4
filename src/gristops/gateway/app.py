"""The gateway application factory: `create_app(config)`; uvicorn runs `app_factory` with --factory."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from gristops import __version__
from gristops.config import Config, load_config
from gristops.errors import GristopsError
from gristops.gateway.auth import AuthService
from gristops.gateway.cache import ResponseCache
from gristops.gateway.context import GatewayContext
from gristops.gateway.fastpath import FastReads
from gristops.gateway.jsonbody import JSONBody, error_response
from gristops.gateway.middleware import BodyLimitMiddleware, RequestContextMiddleware
from gristops.gateway.ops_metrics import OPS_AREAS
from gristops.gateway.routes import auth as auth_routes
from gristops.gateway.routes import records, system
from gristops.gateway.status import route as status
from gristops.gateway.status.history import RequestHistory
from gristops.gateway.tokens import TokenService, adopt_key_files
from gristops.gateway.workers import Leadership, metrics_dir, run_dir_from_env
from gristops.observe.collector import OpsCollector
from gristops.observe.logging import configure_process_logging
from gristops.observe.metrics import create_metrics, worker_exited
from gristops.state.db import StateDB
from gristops.state.signing_keys import SigningKeys
from gristops.store.base import Store
from gristops.store.factory import open_store
from gristops.store.probe import StoreProbe

log = structlog.get_logger("gristops.gateway")

DESCRIPTION = """\
A Grist-compatible API with server-side login and role permissions.

Log in with `POST /auth/login`, then send `Authorization: Bearer <access_token>`.
The document endpoints take the same paths, parameters and JSON shapes as
Grist's REST API, plus `offset` for paging and `GET .../records/{rowId}`.
"""


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GristopsError)
    async def gristops_error(request: Request, exc: GristopsError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            # Like Grist: an unknown route or method is "not found: <path>".
            return JSONBody({"error": f"not found: {request.url.path}"}, status_code=404)
        return JSONBody({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONBody({"error": f"{where}: {first.get('msg')}"}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        request_id = request.scope.get("state", {}).get("request_id", "")
        return JSONBody(
            {"error": f"internal error (request id {request_id}); the log has the details"},
            status_code=500,
        )


def create_app(config: Config, store: Store | None = None, run_dir: Path | None = None) -> FastAPI:
    """A gateway app for this config; `store` overrides the configured one (tests, embedding).

    `run_dir`: what the workers of one `gristops serve` share (gateway/workers.py); None
    for a gateway of one process."""
    metrics = create_metrics(metrics_dir(run_dir))
    store = store or open_store(config, metrics.store)
    state = StateDB(config.state_location)
    # Ops gauges (backups, replication, TLS, deploys, jobs) are read from the state DB at
    # scrape time, by whichever worker answers it.
    metrics.registry.register(OpsCollector(config, state, OPS_AREAS, metrics.values))
    probe = StoreProbe(
        store,
        config.grist.document_id,
        metrics.values,
        interval=config.observe.prometheus.store_probe_interval,
    )
    # Unique across the fleet: gateways on several hosts may share one state DB.
    gateway = f"{socket.gethostname()}/{run_dir.name if run_dir else os.getpid()}"
    history = RequestHistory(state, config.observe.status.history_minutes, gateway)
    leadership = Leadership(run_dir)
    signing_keys = SigningKeys(state)
    adopt_key_files(signing_keys, config.keys_dir, time.time())
    tokens = TokenService(signing_keys, config.auth.access_token_ttl)
    auth = AuthService(config, store, state, tokens, metrics)
    cache = ResponseCache(config.server.response_cache_bytes, metrics.values)
    salt = hashlib.sha256(config.model_dump_json(include={"roles", "auth"}).encode()).digest()
    ctx = GatewayContext(config, store, state, tokens, auth, metrics, cache, salt)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("gateway started", version=__version__, store=config.store_kind)
        # Once per gateway, not once per worker: the store probe and the status history.
        sampling = history.sample_forever(metrics.registry, config.observe.status.sample_seconds)
        async with leadership.running([probe.running()], [sampling]):
            yield
        await store.aclose()
        state.close()
        worker_exited(metrics, os.getpid())
        log.info("gateway stopped")

    # Swagger UI from the files fastapi-offline ships: /api/docs works with no internet.
    app = FastAPIOffline(
        title="gristops gateway",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/api/docs",
        redoc_url=None,
        static_url="/api/docs-assets",
        openapi_url="/openapi.json",
        swagger_ui_parameters={"persistAuthorization": True},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.status_history = history
    _install_error_handlers(app)
    app.include_router(system.router)
    app.include_router(auth_routes.router)
    app.include_router(records.router)
    app.include_router(status.router)
    if config.server.fast_reads:
        app.add_middleware(FastReads, ctx=ctx)
    if config.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.server.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "PUT"],
            allow_headers=["Authorization", "Content-Type", "X-Sort", "X-Limit", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.server.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        access_log=config.log.access,
        request_metrics=config.observe.prometheus.request_metrics,
    )
    return app


def app_factory() -> FastAPI:
    """Zero-argument factory for `uvicorn --factory`: the config path comes from GRISTOPS_CONFIG."""
    config = load_config(Path(os.environ.get("GRISTOPS_CONFIG", "gristops.yaml")))
    configure_process_logging(config, "gateway")
    return create_app(config, run_dir=run_dir_from_env())
