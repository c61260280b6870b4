"""`gristops backup prune`: forget snapshots the retention policy does not keep, then
delete the chunks no remaining manifest references.

The newest verified snapshot is never deleted. Chunks are deleted only when
every remaining manifest could be read: a manifest that cannot be decrypted
might reference any chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.lock import backup_lock
from gristops.backup.manifest import chunk_key, snapshot_key
from gristops.backup.retention import keep
from gristops.config import Config
from gristops.errors import CorruptBlob, PruneRefused
from gristops.state.db import StateDB


@dataclass(frozen=True)
class PruneResult:
    target: str
    kept: tuple[str, ...]
    deleted: tuple[str, ...]
    chunks_deleted: int
    dry_run: bool


def _newest_verified(catalog: Catalog, target: str, ids: list[str]) -> list[str]:
    verified = [i for i, (_, _, at) in catalog.snapshots(target).items() if at and i in ids]
    return sorted(verified)[-1:]


def prune(config: Config, state: StateDB, archive: Archive, dry_run: bool = False) -> PruneResult:
    started = time.time()
    catalog = Catalog(state)
    name = archive.target.name
    with backup_lock(config.data_dir):
        ids = archive.snapshot_ids()
        kept = keep(ids, config.backup.retention, _newest_verified(catalog, name, ids))
        doomed = [i for i in ids if i not in kept]
        referenced: set[str] = set()
        for snapshot_id in sorted(kept):
            try:
                manifest = archive.manifest(snapshot_id)
            except CorruptBlob as exc:
                raise PruneRefused(
                    f"target {name!r}: {exc.message}; no chunk was deleted",
                    f"verify the snapshot; if it is damaged delete {snapshot_key(snapshot_id)}",
                ) from None
            referenced.update(c for f in manifest.files for c in f.chunks)
        unused = sorted(archive.known_chunks() - referenced)
        if not dry_run:
            # Manifests first: a snapshot disappears whole before its chunks do.
            for snapshot_id in doomed:
                archive.target.delete(snapshot_key(snapshot_id))
                catalog.forget_snapshot(name, snapshot_id)
            for sha in unused:
                archive.target.delete(chunk_key(sha))
    result = PruneResult(name, tuple(sorted(kept)), tuple(doomed), len(unused), dry_run)
    if not dry_run:
        catalog.record_run(
            "prune",
            started_at=started,
            ok=True,
            target=name,
            detail=f"deleted {len(doomed)} snapshots, {len(unused)} chunks",
        )
    return result
