"""Reads answered before FastAPI: the GETs of a document's tables, a table's columns and
a table's records.

These are the reads apps poll, and most answers are a 304 or a cached body
(gateway/cache.py). FastAPI's routing, dependency solving and parameter
validation cost more than such an answer, so this pure ASGI layer, inside the
request-id/metrics/access-log middleware and CORS, answers them itself with
the route handlers' own steps (routes/records.py: `*_read` and `conditional`)
and the app's own error answers: the same token check, permissions, ETag,
cache, headers and body. It sets the scope's route to the matching FastAPI
route, so metrics and the access log name the same template.

Anything it does not recognize as one of those reads with valid path
parameters (another route or method, a document id FastAPI would refuse) goes
on to FastAPI unchanged. `server.fast_reads: false` sends everything there.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gristops.config.model import DOC_ID_PATTERN
from gristops.errors import GristopsError
from gristops.gateway.context import GatewayContext
from gristops.gateway.jsonbody import error_response
from gristops.gateway.routes.records import (
    Read,
    columns_read,
    conditional,
    records_read,
    router,
    tables_read,
)

_READ = re.compile(r"^/api/docs/([^/]+)/tables(?:/([^/]{1,200})/(records|columns))?$")
_DOC_ID = re.compile(DOC_ID_PATTERN)
TEMPLATES = {
    None: "/api/docs/{docId}/tables",
    "columns": "/api/docs/{docId}/tables/{tableId}/columns",
    "records": "/api/docs/{docId}/tables/{tableId}/records",
}


class FastReads:
    """ASGI layer answering the polled reads itself (see the module doc)."""

    def __init__(self, app: ASGIApp, ctx: GatewayContext) -> None:
        self.app = app
        self.ctx = ctx
        routes = {r.path: r for r in router.routes if isinstance(r, APIRoute)}
        self.routes = {what: routes[template] for what, template in TEMPLATES.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _READ.match(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] != "GET" or not _DOC_ID.match(found.group(1)):
            await self.app(scope, receive, send)
            return
        doc_id, table_id, what = found.groups()
        scope["route"] = self.routes[what]
        request = Request(scope, receive)
        ctx = self.ctx
        try:
            user = ctx.auth.principal_from_header(request.headers.get("authorization"))
            request.state.user_id = user.user_id  # the access log line names the caller
            read: Read
            if what == "records":
                read = await records_read(ctx, user, request, doc_id, table_id)
            elif what == "columns":
                hidden = request.query_params.get("hidden")
                read = await columns_read(ctx, user, doc_id, table_id, hidden)
            else:
                read = await tables_read(ctx, user, doc_id)
            response = await conditional(ctx, request, user, read)
        except GristopsError as exc:
            response = error_response(exc)
        await response(scope, receive, send)
