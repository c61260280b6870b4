"""A document's tables and columns as plain names, read through the Store protocol."""

from __future__ import annotations

from gristops.store.base import Store


async def table_columns(store: Store, doc_id: str) -> dict[str, dict[str, bool]]:
    """Each table id -> its column ids (hidden ones too) -> whether it is a formula."""
    tables: dict[str, dict[str, bool]] = {}
    for table in await store.list_tables(doc_id):
        columns = await store.list_columns(doc_id, table["id"], hidden=True)
        tables[table["id"]] = {c["id"]: bool(c["fields"].get("isFormula")) for c in columns}
    return tables
