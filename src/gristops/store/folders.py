"""Checks that a store points at the right documents folder (`gristops config check`).

Two mistakes lose data or serve nothing:
- hybrid mode with a `grist.docs_dir` that holds none of that Grist server's
  documents (a wrong path: every read would fall back to REST);
- the embedded store on a folder a Grist server also uses: its writes would go
  around Grist's data engine, which holds open documents in memory.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from gristops.config import Config
from gristops.errors import GristopsError
from gristops.store.location import SUFFIX, documents
from gristops.store.server.client import GristClient

# Grist's home database: next to its documents folder (Docker: /persist), or in a sibling.
HOME_DB = "home.sqlite3"


def grist_folder_signs(docs_dir: Path) -> list[str]:
    """Why `docs_dir` looks like a folder a Grist server keeps its documents in (empty: it does not)."""
    signs: list[str] = []
    folder = docs_dir.resolve()
    parent = folder.parent
    for home in [folder / HOME_DB, parent / HOME_DB, *sorted(parent.glob(f"*/{HOME_DB}"))]:
        if home.is_file():
            signs.append(f"Grist's home database {home} is beside it")
            break
    holders = _other_processes_holding(folder)
    if holders:
        signs.append(f"other processes hold its documents open (pid {', '.join(holders)})")
    return signs


def _other_processes_holding(folder: Path) -> list[str]:
    """Pids of Grist servers (node) with a `.grist` file of `folder` open; Linux /proc only.

    A gristops gateway holds the files open too, and is not a Grist server.
    """
    found: list[str] = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0]
            if Path(os.fsdecode(argv0)).name != "node":
                continue
            targets = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:  # gone, or not ours to look at
            continue
        if any(t.startswith(f"{folder}/") and t.endswith(SUFFIX) for t in targets):
            found.append(proc.name)
    return found


def embedded_problems(config: Config) -> list[str]:
    """Problems of the embedded store's documents folder."""
    signs = grist_folder_signs(config.docs_dir) if config.docs_dir.is_dir() else []
    if not signs:
        return []
    return [
        f"{config.docs_dir} is used by a Grist server ({'; '.join(signs)}): the embedded "
        "store's writes would bypass Grist. Set grist.base_url (and grist.docs_dir for "
        "hybrid mode) instead, or give gristops its own copy of the documents"
    ]


async def _server_doc_ids(config: Config) -> set[str]:
    client = GristClient(config.grist, config.grist_api_key())
    try:
        response = await client.send(
            "GET", config.grist.document_id, "/api/orgs/current/workspaces", idempotent=True
        )
    finally:
        await client.aclose()
    ids: set[str] = set()
    for workspace in response.json():
        for doc in workspace.get("docs", []):
            ids.update(str(doc[key]) for key in ("id", "urlId") if doc.get(key))
    return ids


def hybrid_problems(config: Config) -> list[str]:
    """Problems of hybrid mode's `grist.docs_dir`: missing, empty, or not that server's."""
    docs_dir = config.grist.docs_dir
    if docs_dir is None:
        return []
    if not docs_dir.is_dir():
        return [f"grist.docs_dir {docs_dir} is not a folder: set it to the Grist server's "
                "GRIST_DATA_DIR (where it keeps <docId>.grist)"]  # fmt: skip
    files = set(documents(docs_dir))
    try:
        served = asyncio.run(_server_doc_ids(config))
    except GristopsError as exc:
        return [f"cannot list the documents of {config.grist.base_url}: {exc.message}"]
    if not files & served:
        return [
            f"grist.docs_dir {docs_dir} holds no documents of {config.grist.base_url} "
            f"({len(files)} {SUFFIX} files there, none of the server's {len(served)} documents): "
            "set it to that server's GRIST_DATA_DIR, or unset it to read through the API"
        ]
    return []


def folder_problems(config: Config) -> list[str]:
    """Every documents-folder problem of this config."""
    return embedded_problems(config) if config.embedded else hybrid_problems(config)
