"""`gristops backup drill`: prove the latest snapshot can be brought back, and time it.

Restore into a scratch directory, verify, then open the documents with the
embedded store and read every table through the Store protocol, comparing
row counts with the manifest. The wall time of all that is the measured
recovery time (RTO); the outcome goes to the state DB (and the metrics).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio

from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.manifest import Manifest
from gristops.backup.progress import Reporter, Silent
from gristops.backup.restore import extract_verified
from gristops.backup.scratch import scratch_dir
from gristops.backup.verify import resolve_snapshot
from gristops.config import Config
from gristops.errors import GristopsError
from gristops.state.db import StateDB
from gristops.store.base import RecordQuery
from gristops.store.factory import open_store


@dataclass(frozen=True)
class DrillResult:
    target: str
    snapshot_id: str
    ok: bool
    seconds: float
    documents: int
    tables: int
    records: int
    error: str = ""


async def _read_all(config: Config, manifest: Manifest) -> tuple[int, int, list[str]]:
    """Every table of every document through the embedded store: (tables, records, problems)."""
    store = open_store(config)
    tables = records = 0
    problems: list[str] = []
    try:
        for doc in manifest.documents():
            assert doc.doc_id is not None
            counts = (doc.sqlite or {}).get("tables", {})
            for table in await store.list_tables(doc.doc_id):
                rows = await store.fetch_records(doc.doc_id, str(table["id"]), RecordQuery())
                tables += 1
                records += len(rows)
                expected = counts.get(table["id"])
                if expected is not None and expected != len(rows):
                    problems.append(
                        f"{doc.doc_id}.{table['id']}: read {len(rows)} records, the manifest"
                        f" says {expected}"
                    )
    finally:
        await store.aclose()
    return tables, records, problems


def drill(
    config: Config, state: StateDB, archive: Archive, reporter: Reporter | None = None
) -> DrillResult:
    started = time.time()
    clock = time.monotonic()
    name = archive.target.name
    snapshot_id = ""
    try:
        snapshot_id = resolve_snapshot(archive, "latest")
        manifest = archive.manifest(snapshot_id)
        with scratch_dir(config.data_dir, "drill") as work:
            docs = manifest.documents()
            extract_verified(archive, manifest, docs, work, reporter or Silent())
            # The snapshot keeps documents under docs/, just like data_dir does.
            scratch = config.model_copy(
                update={
                    "data_dir": work,
                    "grist": config.grist.model_copy(update={"base_url": None}),
                }
            )
            tables, records, problems = anyio.run(_read_all, scratch, manifest)
        result = DrillResult(
            name,
            snapshot_id,
            not problems,
            time.monotonic() - clock,
            len(docs),
            tables,
            records,
            "; ".join(problems[:3]),
        )
    except GristopsError as exc:
        result = DrillResult(
            name, snapshot_id, False, time.monotonic() - clock, 0, 0, 0, exc.message
        )
    Catalog(state).record_run(
        "drill",
        started_at=started,
        ok=result.ok,
        target=name,
        snapshot_id=snapshot_id or None,
        size=result.records,
        detail=result.error,
    )
    return result
