"""Response and request shapes for the OpenAPI document (Grist's JSON shapes).

Handlers return pre-serialized JSON for speed; these models describe it so the
spec (and contract tests against it) stay exact.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error answer: one line saying what is wrong."""

    error: str
    details: dict[str, Any] | None = None


class ItemOut(BaseModel):
    """A table or a column as Grist lists them: its id and its metadata fields."""

    model_config = ConfigDict(extra="forbid")
    id: str
    fields: dict[str, Any]


class TablesOut(BaseModel):
    tables: list[ItemOut]


class ColumnsOut(BaseModel):
    columns: list[ItemOut]


class RecordOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    fields: dict[str, Any]
    errors: dict[str, str] | None = None


class RecordsOut(BaseModel):
    records: list[RecordOut]


class RecordIdOut(BaseModel):
    id: int


class RecordIdsOut(BaseModel):
    records: list[RecordIdOut]


class UpsertOut(BaseModel):
    recordIds: list[list[int]]
    addRecordIds: list[int]
    updateRecordIds: list[list[int]]


class NewRecord(BaseModel):
    fields: dict[str, Any] = Field(default_factory=dict)


class NewRecords(BaseModel):
    records: list[NewRecord]


class UpdateRecord(BaseModel):
    id: int
    fields: dict[str, Any]


class UpdateRecords(BaseModel):
    records: list[UpdateRecord]


class UpsertRecord(BaseModel):
    require: dict[str, Any]
    fields: dict[str, Any] = Field(default_factory=dict)


class UpsertRecords(BaseModel):
    records: list[UpsertRecord]


class RecordsListBody(BaseModel):
    filter: dict[str, list[Any]] | None = None
    sort: list[str] | None = None
    limit: int | None = None
    hidden: bool | None = None
    cellFormat: str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation may answer."""
    return {status: {"model": ErrorBody} for status in statuses}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI requestBody for a handler that reads and validates the raw body itself."""
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, schema.get("$defs", {}))}},
        }
    }
