"""What the gateway needs of its document, checked before it serves: `config check` runs this.

The document behind `grist.document_id` must exist, and so must the users
table with every column `auth.users_table_schema` names; otherwise every login
fails at run time.
"""

from __future__ import annotations

from gristops.config import Config
from gristops.errors import GristopsError
from gristops.store.base import Store


async def document_problems(config: Config, store: Store) -> list[str]:
    """One line per thing the configured document lacks; empty when it serves."""
    doc_id = config.grist.document_id
    where = "embedded store" if config.embedded else f"Grist server {config.grist.base_url}"
    try:
        tables = {t["id"] for t in await store.list_tables(doc_id)}
    except GristopsError as exc:
        return [f"grist.document_id: no document {doc_id!r} in the {where} ({exc.message})"]
    users = config.auth.users_table
    if users not in tables:
        return [f"auth.users_table: the document {doc_id} has no table {users!r}"]
    columns = {c["id"] for c in await store.list_columns(doc_id, users, hidden=True)}
    schema = config.auth.users_table_schema
    return [
        f"auth.users_table_schema.{key}: the table {users} has no column {column!r}"
        for key, column in schema.model_dump().items()
        if column not in columns
    ]
