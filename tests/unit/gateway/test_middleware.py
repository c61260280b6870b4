"""Request ids, access log and metrics, and the body limit, on a small ASGI app in process."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import generate_latest

from gristops.gateway.middleware import BodyLimitMiddleware, RequestContextMiddleware
from gristops.observe.metrics import create_metrics


def make_app(limit: int = 100) -> tuple[FastAPI, object]:
    metrics = create_metrics()
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int, request: Request) -> dict[str, int]:
        request.state.user_id = 7
        return {"id": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body())

    app.add_middleware(BodyLimitMiddleware, max_bytes=limit)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app, metrics


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_every_response_has_a_request_id_and_a_sane_caller_id_is_kept() -> None:
    app, _ = make_app()
    async with client(app) as c:
        generated = await c.get("/items/1")
        kept = await c.get("/items/1", headers={"X-Request-ID": "abc-12345678"})
        replaced = await c.get("/items/1", headers={"X-Request-ID": "bad id\nwith newline"})
    assert len(generated.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "abc-12345678"
    assert replaced.headers["x-request-id"] != "bad id\nwith newline"


async def test_metrics_use_route_templates_not_raw_paths() -> None:
    app, metrics = make_app()
    async with client(app) as c:
        for i in range(5):
            await c.get(f"/items/{i}")
        await c.get("/nowhere/123")
    text = generate_latest(metrics.registry).decode()  # type: ignore[attr-defined]
    assert (
        'gristops_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 5.0'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    assert "/items/3" not in text


async def test_one_log_line_per_request_with_user_id() -> None:
    app, _ = make_app()
    with structlog.testing.capture_logs() as logs:
        async with client(app) as c:
            await c.get("/items/2", headers={"Authorization": "Bearer secret-token"})
    lines = [entry for entry in logs if entry["event"] == "request"]
    assert len(lines) == 1
    assert lines[0]["route"] == "/items/{item_id}"
    assert lines[0]["status"] == 200
    assert lines[0]["user_id"] == 7
    assert "secret-token" not in json.dumps(lines, default=str)


@pytest.mark.parametrize("size", [100, 101, 5000])
async def test_body_limit(size: int) -> None:
    app, _ = make_app(limit=100)
    async with client(app) as c:
        response = await c.post("/echo", content=b"x" * size)
    if size <= 100:
        assert response.status_code == 200
    else:
        assert response.status_code == 413
        assert response.json() == {"error": "request entity too large"}


async def test_body_limit_counts_streamed_bodies_without_length() -> None:
    app, _ = make_app(limit=100)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 50

    async with client(app) as c:
        response = await c.post("/echo", content=chunks())
    assert response.status_code == 413


async def test_access_log_can_be_turned_off_while_metrics_still_count() -> None:
    metrics = create_metrics()
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(RequestContextMiddleware, metrics=metrics, access_log=False)
    with structlog.testing.capture_logs() as logs:
        async with client(app) as c:
            await c.get("/ping")
    assert [entry for entry in logs if entry["event"] == "request"] == []
    assert (
        metrics.registry.get_sample_value(
            "gristops_http_requests_total", {"method": "GET", "route": "/ping", "status": "200"}
        )
        == 1.0
    )
