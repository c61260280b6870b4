"""GristServerStore: the Store protocol over a real Grist server's REST API.

Answers are Grist's own JSON shapes, passed through. Two things Grist lacks
are built on top: `offset` (Grist is asked for limit+offset rows and the first
`offset` are dropped) and `find_records` (a parameterised query on Grist's
SQL endpoint, or an exact `filter` where that endpoint is not available).
Access-rule row conditions become Grist filters (see rowrules.py).
Transport concerns (pool, limits, retries, breaker, errors) live in client.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from gristops.config.model import GristSection
from gristops.errors import NotFound
from gristops.store.base import JSON, Record, RecordQuery, SortKey, UpsertOptions, UpsertResult
from gristops.store.metrics import StoreMetrics, measure_store
from gristops.store.rows import RowCondition
from gristops.store.server import rowrules
from gristops.store.server.client import GristClient, doc_path
from gristops.store.server.lookup import lookup_sql, records_from_sql

log = logging.getLogger(__name__)

# Grist versions without /sql answer 404; keys without full read access answer 403.
SQL_UNAVAILABLE = frozenset({403, 404})


def sort_param(keys: tuple[SortKey, ...]) -> str:
    """Grist's `sort` query text: `-price:emptyLast;naturalSort,name`."""
    specs = []
    for key in keys:
        spec = f"{'-' if key.descending else ''}{key.column}"
        specs.append(f"{spec}:{';'.join(key.flags)}" if key.flags else spec)
    return ",".join(specs)


def record_params(query: RecordQuery) -> dict[str, str]:
    """Query parameters of `GET /records`; defaults are left out, as Grist's clients do."""
    params: dict[str, str] = {}
    if query.filter is not None:
        params["filter"] = json.dumps(query.filter, ensure_ascii=False, separators=(",", ":"))
    if query.sort:
        params["sort"] = sort_param(query.sort)
    if query.limit is not None:
        # Grist has no offset: ask for the rows before it too, and drop them here.
        params["limit"] = str(query.limit + query.offset if query.limit else 0)
    if query.hidden:
        params["hidden"] = "true"
    if query.cell_format != "normal":
        params["cellFormat"] = query.cell_format
    return params


def upsert_params(options: UpsertOptions) -> dict[str, str]:
    params = {name: "true" for name in ("noadd", "noupdate") if getattr(options, name)}
    if options.onmany != "first":
        params["onmany"] = options.onmany
    if options.allow_empty_require:
        params["allow_empty_require"] = "true"
    return params


class GristServerStore:
    """Documents on a Grist server, reached with one API key (see client.py for limits)."""

    def __init__(
        self,
        settings: GristSection,
        api_key: str,
        metrics: StoreMetrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        on_change = None
        if metrics is not None:
            on_change = metrics.breaker_open.set
            metrics.breaker_open.set(0)  # present from the start: an alert rule sees it closed
        self.client = GristClient(settings, api_key, clock=clock, on_breaker_change=on_change)
        self._metrics = metrics

    def _measure(self, operation: str) -> AbstractContextManager[None]:
        return measure_store(self._metrics, "grist", operation)

    async def _get(self, doc_id: str, path: str, params: dict[str, str] | None = None) -> JSON:
        response = await self.client.send("GET", doc_id, path, params=params, idempotent=True)
        return response.json()

    async def _write(
        self,
        method: str,
        doc_id: str,
        path: str,
        body: JSON,
        params: dict[str, str] | None = None,
    ) -> JSON:
        response = await self.client.send(method, doc_id, path, params=params, body=body)
        return response.json()

    async def _records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        if query.rows is not None:
            return await rowrules.read(self._fetcher(doc_id, table_id), query, query.rows)
        path = doc_path(doc_id, "tables", table_id, "records")
        records: list[Record] = (await self._get(doc_id, path, record_params(query)))["records"]
        return records[query.offset :] if query.offset else records

    def _fetcher(self, doc_id: str, table_id: str) -> rowrules.Fetch:
        async def fetch(query: RecordQuery) -> list[Record]:
            return await self._records(doc_id, table_id, query)

        return fetch

    async def _columns(self, doc_id: str, table_id: str, hidden: bool) -> list[Record]:
        params = {"hidden": "true"} if hidden else None
        body = await self._get(doc_id, doc_path(doc_id, "tables", table_id, "columns"), params)
        columns: list[Record] = body["columns"]
        return columns

    async def list_tables(self, doc_id: str) -> list[Record]:
        with self._measure("list_tables"):
            tables: list[Record] = (await self._get(doc_id, doc_path(doc_id, "tables")))["tables"]
            return tables

    async def list_columns(self, doc_id: str, table_id: str, hidden: bool = False) -> list[Record]:
        with self._measure("list_columns"):
            return await self._columns(doc_id, table_id, hidden)

    async def fetch_records(self, doc_id: str, table_id: str, query: RecordQuery) -> list[Record]:
        with self._measure("fetch_records"):
            return await self._records(doc_id, table_id, query)

    async def fetch_record(
        self,
        doc_id: str,
        table_id: str,
        row_id: int,
        hidden: bool = False,
        rows: RowCondition | None = None,
    ) -> Record:
        with self._measure("fetch_record"):
            query = RecordQuery(filter={"id": [row_id]}, hidden=hidden, rows=rows)
            records = await self._records(doc_id, table_id, query)
            if not records:
                raise NotFound(
                    f'Record {row_id} not found in table "{table_id}"',
                    hint="Check the row id; it may have been deleted.",
                )
            return records[0]

    async def find_records(
        self, doc_id: str, table_id: str, column: str, value: str, casefold: bool = True
    ) -> list[Record]:
        with self._measure("find_records"):
            columns = await self._columns(doc_id, table_id, hidden=True)
            types = {col["id"]: str(col["fields"].get("type", "Any")) for col in columns}
            body = {"sql": lookup_sql(table_id, column, types, casefold), "args": [value]}
            response = await self.client.send(
                "POST",
                doc_id,
                doc_path(doc_id, "sql"),
                body=body,
                idempotent=True,  # a SELECT: safe to repeat
                accept=SQL_UNAVAILABLE,
            )
            if response.status_code in SQL_UNAVAILABLE:
                # Exact match only: without SQL, case cannot be folded on the server.
                log.info("Grist /sql unavailable (HTTP %d); exact filter", response.status_code)
                query = RecordQuery(filter={column: [value]}, hidden=True)
                return await self._records(doc_id, table_id, query)
            return records_from_sql(response.json()["records"], types)

    async def add_records(
        self, doc_id: str, table_id: str, records: list[dict[str, JSON]]
    ) -> list[int]:
        with self._measure("add_records"):
            path = doc_path(doc_id, "tables", table_id, "records")
            body = {"records": [{"fields": fields} for fields in records]}
            answer = await self._write("POST", doc_id, path, body)
            return [int(record["id"]) for record in answer["records"]]

    async def update_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        rows: RowCondition | None = None,
    ) -> None:
        with self._measure("update_records"):
            if rows is not None:
                await rowrules.check_update(
                    self._fetcher(doc_id, table_id), table_id, records, rows
                )
            path = doc_path(doc_id, "tables", table_id, "records")
            await self._write("PATCH", doc_id, path, {"records": records})

    async def upsert_records(
        self,
        doc_id: str,
        table_id: str,
        records: list[Record],
        options: UpsertOptions,
        rows: RowCondition | None = None,
    ) -> UpsertResult:
        with self._measure("upsert_records"):
            if rows is not None:
                fetch = self._fetcher(doc_id, table_id)
                await rowrules.check_upsert(fetch, table_id, records, options, rows)
            path = doc_path(doc_id, "tables", table_id, "records")
            answer: dict[str, Any] = await self._write(
                "PUT", doc_id, path, {"records": records}, upsert_params(options)
            )
            # Passed through as Grist shaped them (recordIds holds one list per record).
            return UpsertResult(
                record_ids=answer["recordIds"],
                add_record_ids=answer["addRecordIds"],
                update_record_ids=answer["updateRecordIds"],
            )

    async def delete_records(
        self, doc_id: str, table_id: str, row_ids: list[int], rows: RowCondition | None = None
    ) -> None:
        with self._measure("delete_records"):
            if rows is not None:
                await rowrules.check_ids(self._fetcher(doc_id, table_id), table_id, row_ids, rows)
            path = doc_path(doc_id, "tables", table_id, "records", "delete")
            await self._write("POST", doc_id, path, row_ids)

    async def ping(self, doc_id: str) -> None:
        with self._measure("ping"):
            await self._get(doc_id, doc_path(doc_id, "tables"))

    async def version(self, doc_id: str) -> None:
        # Grist offers no cheap version of a document over REST: answers are not cached.
        return None

    async def aclose(self) -> None:
        await self.client.aclose()
