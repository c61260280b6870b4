"""Grist-compatible document endpoints: tables, columns and records.

Same paths, parameters and JSON shapes as Grist's REST API, behind the
gateway's login, role permissions and access rules (gateway/access.py: rows
outside the caller's rule do not exist, hidden columns are never shown,
read-only ones never written). Handlers parse raw inputs through
`gateway.params` (Grist's semantics and messages) and answer pre-serialized JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from gristops.config.model import DOC_ID_PATTERN, Action
from gristops.gateway import params, permissions
from gristops.gateway.access import Access, access_for
from gristops.gateway.auth import Principal, require_principal
from gristops.gateway.cache import CACHE_CONTROL, matches, request_etag
from gristops.gateway.context import GatewayContext
from gristops.gateway.jsonbody import JSONBody, read_json
from gristops.gateway.schemas import (
    ColumnsOut,
    NewRecords,
    RecordIdsOut,
    RecordOut,
    RecordsListBody,
    RecordsOut,
    TablesOut,
    UpdateRecords,
    UpsertOut,
    UpsertRecords,
    body_schema,
    error_responses,
)
from gristops.store.base import Record, RecordQuery

router = APIRouter(prefix="/api/docs/{docId}", tags=["documents"])

DocId = Annotated[str, Path(alias="docId", pattern=DOC_ID_PATTERN, description="Document id.")]
TableId = Annotated[str, Path(alias="tableId", max_length=200, description="Table id.")]
Flag = Annotated[str | None, Query(description="true or false.")]
CurrentUser = Annotated[Principal, Depends(require_principal)]

# The query's parameters are read from the request directly: FastAPI's per-parameter
# parsing of these eight cost more than a cached answer (measured: about a third of a
# cache hit). They stay documented here for clients and the contract tests.
RECORDS_PARAMETERS = [
    {
        "name": name,
        "in": where,
        "required": False,
        "schema": {"type": "string"},
        "description": text,
    }
    for name, where, text in (
        ("filter", "query", 'JSON object {"column": [values]}.'),
        ("sort", "query", "Columns, - for descending, :flags."),
        ("limit", "query", "Most rows to return; 0 for all."),
        ("offset", "query", "Rows to skip after sorting (gristops)."),
        ("hidden", "query", "true or false."),
        ("cellFormat", "query", "normal or typed."),
        ("X-Sort", "header", "Like sort."),
        ("X-Limit", "header", "Like limit."),
    )
]
READ_ERRORS = error_responses(400, 401, 404, 429, 503)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 429, 503)
# PATCH and delete answer a JSON null, as Grist does.
NULL_WRITE_RESPONSES = {
    200: {"content": {"application/json": {"schema": {"type": "null"}}}},
    **WRITE_ERRORS,
}


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


async def _access(ctx: GatewayContext, user: Principal, table_id: str, action: Action) -> Access:
    """Check the role's permission; return what the caller may see and change."""
    return await access_for(ctx.config, ctx.store, user, table_id, action)


async def _answer_records(
    ctx: GatewayContext, doc_id: str, table_id: str, query: RecordQuery, access: Access
) -> dict[str, Any]:
    """The records a read asks for, among the caller's rows, without their hidden columns."""
    access.check_query(query)
    records = await ctx.store.fetch_records(doc_id, table_id, replace(query, rows=access.rows))
    return {"records": access.strip(records)}


@dataclass(frozen=True)
class Read:
    """One cacheable read, checked (permissions, parameters): what the caller may see of it
    and how to compute its answer."""

    doc_id: str
    answer: Callable[[], Awaitable[Any]]
    access: Access | None = None


async def tables_read(ctx: GatewayContext, user: Principal, doc_id: str) -> Read:
    async def answer() -> dict[str, Any]:
        tables = await ctx.store.list_tables(doc_id)
        roles = ctx.config.roles
        return {
            "tables": [t for t in tables if permissions.allowed(roles, user.role, t["id"], "read")]
        }

    return Read(doc_id, answer)


async def columns_read(
    ctx: GatewayContext, user: Principal, doc_id: str, table_id: str, hidden: str | None
) -> Read:
    access = await _access(ctx, user, table_id, "read")
    show_hidden = params.flag("hidden", hidden)

    async def answer() -> dict[str, Any]:
        columns = await ctx.store.list_columns(doc_id, table_id, show_hidden)
        return {"columns": [c for c in columns if c["id"] not in access.hidden]}

    return Read(doc_id, answer, access)


async def records_read(
    ctx: GatewayContext, user: Principal, request: Request, doc_id: str, table_id: str
) -> Read:
    access = await _access(ctx, user, table_id, "read")
    q, h = request.query_params, request.headers
    query = params.record_query(
        q.get("filter"),
        q.get("sort"),
        q.get("limit"),
        q.get("offset"),
        q.get("hidden"),
        q.get("cellFormat"),
        h.get("x-sort"),
        h.get("x-limit"),
    )
    return Read(doc_id, lambda: _answer_records(ctx, doc_id, table_id, query, access), access)


async def conditional(
    ctx: GatewayContext, request: Request, user: Principal, read: Read
) -> Response:
    """A read's answer with its ETag: 304 when the client holds it, else from the cache or
    `read.answer()`. Without a store version (a Grist server), plain and uncached."""
    version = await ctx.store.version(read.doc_id)
    if version is None:
        return JSONBody(await read.answer())
    rule = repr(read.access.rows) if read.access is not None else ""
    etag = request_etag(request, version, user.user_id, user.role, ctx.etag_salt, rule)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(request, etag):
        ctx.cache.not_modified.inc()
        return Response(status_code=304, headers=headers)
    body = ctx.cache.get(etag)
    if body is None:
        body = orjson.dumps(await read.answer())
        ctx.cache.put(etag, body)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/tables", response_model=TablesOut, responses=READ_ERRORS, summary="List tables")
async def list_tables(request: Request, doc_id: DocId, user: CurrentUser) -> Response:
    ctx = _ctx(request)
    return await conditional(ctx, request, user, await tables_read(ctx, user, doc_id))


@router.get(
    "/tables/{tableId}/columns",
    response_model=ColumnsOut,
    responses=READ_ERRORS,
    summary="List columns",
)
async def list_columns(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser, hidden: Flag = None
) -> Response:
    ctx = _ctx(request)
    read = await columns_read(ctx, user, doc_id, table_id, hidden)
    return await conditional(ctx, request, user, read)


@router.get(
    "/tables/{tableId}/records",
    response_model=RecordsOut,
    responses=READ_ERRORS,
    summary="Fetch records",
    openapi_extra={"parameters": RECORDS_PARAMETERS},
)
async def fetch_records(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser
) -> Response:
    ctx = _ctx(request)
    read = await records_read(ctx, user, request, doc_id, table_id)
    return await conditional(ctx, request, user, read)


@router.post(
    "/tables/{tableId}/records/list",
    response_model=RecordsOut,
    responses=READ_ERRORS,
    openapi_extra=body_schema(RecordsListBody),
    summary="Fetch records (options in the body)",
)
async def list_records(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser
) -> Response:
    ctx = _ctx(request)
    access = await _access(ctx, user, table_id, "read")
    query = params.records_list_query(await read_json(request))
    return JSONBody(await _answer_records(ctx, doc_id, table_id, query, access))


@router.get(
    "/tables/{tableId}/records/{rowId}",
    response_model=RecordOut,
    responses=READ_ERRORS,
    summary="Fetch one record (gristops)",
)
async def fetch_record(
    request: Request,
    doc_id: DocId,
    table_id: TableId,
    user: CurrentUser,
    row_id: Annotated[int, Path(alias="rowId", ge=1, le=2**53)],
    hidden: Flag = None,
) -> Response:
    ctx = _ctx(request)
    access = await _access(ctx, user, table_id, "read")
    show_hidden = params.flag("hidden", hidden)

    async def answer() -> Record:
        record = await ctx.store.fetch_record(doc_id, table_id, row_id, show_hidden, access.rows)
        return access.strip([record])[0]

    return await conditional(ctx, request, user, Read(doc_id, answer, access))


@router.post(
    "/tables/{tableId}/records",
    response_model=RecordIdsOut,
    responses=WRITE_ERRORS,
    openapi_extra=body_schema(NewRecords),
    summary="Add records",
)
async def add_records(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser, flat: Flag = None
) -> Response:
    ctx = _ctx(request)
    access = await _access(ctx, user, table_id, "create")
    given = params.add_payload(await read_json(request), params.flag("flat", flat))
    access.check_writes(name for fields in given for name in fields)
    records = [access.filled(fields) for fields in given]
    access.check_new(records)
    ids = await ctx.store.add_records(doc_id, table_id, records)
    return JSONBody({"records": [{"id": i} for i in ids]})


@router.patch(
    "/tables/{tableId}/records",
    response_model=None,
    responses=NULL_WRITE_RESPONSES,
    openapi_extra=body_schema(UpdateRecords),
    summary="Update records",
)
async def update_records(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser
) -> Response:
    ctx = _ctx(request)
    access = await _access(ctx, user, table_id, "update")
    records = params.update_payload(await read_json(request))
    access.check_writes(name for record in records for name in record["fields"])
    await ctx.store.update_records(doc_id, table_id, records, access.rows)
    return JSONBody(None)


@router.put(
    "/tables/{tableId}/records",
    response_model=UpsertOut,
    responses=WRITE_ERRORS,
    openapi_extra=body_schema(UpsertRecords),
    summary="Add or update records",
)
async def upsert_records(
    request: Request,
    doc_id: DocId,
    table_id: TableId,
    user: CurrentUser,
    noadd: Flag = None,
    noupdate: Flag = None,
    onmany: Annotated[str | None, Query(description="first, none or all.")] = None,
    allow_empty_require: Flag = None,
) -> Response:
    ctx = _ctx(request)
    options = params.upsert_options(noadd, noupdate, onmany, allow_empty_require)
    # Upsert may add and update: it needs both rights.
    await _access(ctx, user, table_id, "create")
    access = await _access(ctx, user, table_id, "update")
    records = [
        _filled_upsert(access, record) for record in params.upsert_payload(await read_json(request))
    ]
    result = await ctx.store.upsert_records(doc_id, table_id, records, options, access.rows)
    return JSONBody(result.to_json())


def _filled_upsert(access: Access, record: Record) -> Record:
    """Refuse columns the caller may not use; fill owner columns neither part names."""
    fields = record.get("fields") or {}
    access.check_writes([*record["require"], *fields])
    missing = {k: v for k, v in access.fill.items() if k not in record["require"]}
    return {**record, "fields": {**missing, **fields}}


@router.post(
    "/tables/{tableId}/records/delete",
    response_model=None,
    responses=NULL_WRITE_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}
            },
        }
    },
    summary="Delete records",
)
async def delete_records(
    request: Request, doc_id: DocId, table_id: TableId, user: CurrentUser
) -> Response:
    ctx = _ctx(request)
    access = await _access(ctx, user, table_id, "delete")
    row_ids = params.delete_payload(await read_json(request))
    await ctx.store.delete_records(doc_id, table_id, row_ids, access.rows)
    return JSONBody(None)
