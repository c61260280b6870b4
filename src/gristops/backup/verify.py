"""`gristops backup verify`: fetch a snapshot, decrypt it, and check it against its manifest.

Every chunk's and file's sha256, then for SQLite files `PRAGMA integrity_check`
and the row count of every table. Nothing live is read or written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.progress import Reporter, Silent
from gristops.backup.scratch import scratch_dir
from gristops.config import Config
from gristops.errors import CorruptBlob, NotFound
from gristops.state.db import StateDB


@dataclass(frozen=True)
class VerifyResult:
    target: str
    snapshot_id: str
    problems: list[str] = field(default_factory=list)
    files: int = 0
    size: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def resolve_snapshot(archive: Archive, snapshot: str) -> str:
    """`snapshot` itself, or the newest id on the archive when it is `latest`."""
    ids = archive.snapshot_ids()
    if snapshot == "latest":
        if not ids:
            raise NotFound(
                f"target {archive.target.name!r} holds no snapshot", "run `gristops backup run`"
            )
        return ids[-1]
    if snapshot not in ids:
        raise NotFound(
            f"target {archive.target.name!r} has no snapshot {snapshot}",
            "run `gristops backup list` to see the snapshots",
        )
    return snapshot


def verify_snapshot(
    config: Config,
    state: StateDB,
    archive: Archive,
    snapshot_id: str,
    reporter: Reporter | None = None,
) -> VerifyResult:
    """Check one snapshot completely; records the outcome in the catalog."""
    started = time.time()
    name = archive.target.name
    try:
        manifest = archive.manifest(snapshot_id)
    except CorruptBlob as exc:
        result = VerifyResult(name, snapshot_id, [exc.message])
    else:
        advance = (reporter or Silent()).task(f"verify {snapshot_id} on {name}", manifest.size)
        with scratch_dir(config.data_dir, "verify") as work:
            problems = archive.extract(manifest, manifest.files, work, advance)
        result = VerifyResult(name, snapshot_id, problems, len(manifest.files), manifest.size)
        if result.ok:
            Catalog(state).mark_verified(name, manifest)
    Catalog(state).record_run(
        "verify",
        started_at=started,
        ok=result.ok,
        target=name,
        snapshot_id=snapshot_id,
        size=result.size,
        detail="; ".join(result.problems[:3]),
    )
    return result
