"""The baseline for bench/gateway.py: a bare FastAPI endpoint answering pre-built JSON bytes.

It does no auth, no store and no parsing: whatever the gateway costs on top
of FastAPI + uvicorn shows as the ratio between the two.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response


def app_factory() -> FastAPI:
    body = Path(os.environ["BENCH_BODY"]).read_bytes()
    app = FastAPI()

    @app.get("/api/docs/{doc_id}/tables/{table_id}/records")
    async def records(doc_id: str, table_id: str) -> Response:
        return Response(body, media_type="application/json")

    return app
