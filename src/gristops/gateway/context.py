"""What one gateway app holds: built once by create_app, reached as request.app.state.ctx."""

from __future__ import annotations

from dataclasses import dataclass

from gristops.config import Config
from gristops.gateway.auth import AuthService
from gristops.gateway.cache import ResponseCache
from gristops.gateway.tokens import TokenService
from gristops.observe.metrics import GatewayMetrics
from gristops.state.db import StateDB
from gristops.store.base import Store


@dataclass(frozen=True)
class GatewayContext:
    config: Config
    store: Store
    state: StateDB
    tokens: TokenService
    auth: AuthService
    metrics: GatewayMetrics
    cache: ResponseCache
    # Mixed into every ETag: a change of roles or permissions makes every old ETag stale.
    etag_salt: bytes
