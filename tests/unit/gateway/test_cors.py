"""CORS from config: the configured origin gets its preflight answered, others do not."""

from __future__ import annotations

from pathlib import Path

import httpx

from gristops.config import parse_config
from gristops.gateway.app import create_app


async def test_only_configured_origins_pass_the_preflight(shop_docs: Path) -> None:
    config = parse_config(
        f"data_dir: {shop_docs.parent}\ngrist: {{document_id: Shop}}\n"
        "server: {cors_origins: ['https://app.example.com']}\n"
    )
    app = create_app(config)
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        allowed = await c.options(
            "/api/docs/Shop/tables", headers={"Origin": "https://app.example.com", **preflight}
        )
        refused = await c.options(
            "/api/docs/Shop/tables", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers
