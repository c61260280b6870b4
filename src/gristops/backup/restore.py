"""`gristops backup restore`: rebuild files from a snapshot, verify them, then put them in place.

With `--to DIR` every selected file is written under DIR (paths as in the
snapshot) and nothing live is touched. Otherwise the selected documents of
the embedded store are swapped in (see swap.py), or, with a Grist server,
replaced through its API and reloaded (see grist_restore.py). Either way
nothing moves before the whole selection passed verification.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.grist_restore import restore_into_grist
from gristops.backup.manifest import FileEntry, Manifest
from gristops.backup.progress import Reporter, Silent
from gristops.backup.scratch import scratch_dir
from gristops.backup.swap import swap_into_place
from gristops.config import Config
from gristops.errors import BadRequest, GristopsError, NotFound, SnapshotDamaged
from gristops.state.db import StateDB
from gristops.store.location import document_file


@dataclass(frozen=True)
class RestoredFile:
    path: str
    placed_at: str
    previous: str | None  # the live file kept as *.pre-restore


@dataclass(frozen=True)
class RestoreResult:
    target: str
    snapshot_id: str
    files: tuple[RestoredFile, ...]


def select(manifest: Manifest, doc_ids: tuple[str, ...], live: bool) -> list[FileEntry]:
    """The entries to restore: documents only when going live, `doc_ids` when given."""
    entries = [f for f in manifest.files if f.role == "document" or not live]
    if doc_ids:
        present = {f.doc_id for f in manifest.documents()}
        missing = [d for d in doc_ids if d not in present]
        if missing:
            raise NotFound(
                f"snapshot {manifest.id} holds no document {', '.join(missing)}",
                f"it holds: {', '.join(sorted(str(d) for d in present)) or 'no documents'}",
            )
        entries = [f for f in entries if f.doc_id in doc_ids]
    return entries


def extract_verified(
    archive: Archive, manifest: Manifest, entries: list[FileEntry], work: Path, reporter: Reporter
) -> None:
    """Rebuild `entries` under `work`; SnapshotDamaged unless every check passes."""
    advance = reporter.task(f"restore {manifest.id}", sum(e.size for e in entries))
    problems = archive.extract(manifest, entries, work, advance)
    if problems:
        raise SnapshotDamaged(
            f"snapshot {manifest.id} on target {archive.target.name!r} is damaged: {problems[0]}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            "nothing was restored; try an older snapshot or another target",
        )


def _check_destination(config: Config, to_dir: Path) -> None:
    if to_dir.resolve() == config.docs_dir.resolve():
        raise BadRequest(
            f"--to {to_dir} is the live documents folder",
            "omit --to to restore live documents (safely swapped), or pick another folder",
        )


def restore_snapshot(
    config: Config,
    state: StateDB,
    archive: Archive,
    snapshot_id: str,
    *,
    doc_ids: tuple[str, ...] = (),
    to_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> RestoreResult:
    started = time.time()
    catalog = Catalog(state)
    try:
        result = _restore(config, archive, snapshot_id, doc_ids, to_dir, reporter or Silent())
    except GristopsError as exc:
        catalog.record_run(
            "restore",
            started_at=started,
            ok=False,
            target=archive.target.name,
            snapshot_id=snapshot_id,
            detail=exc.message,
        )
        raise
    catalog.record_run(
        "restore",
        started_at=started,
        ok=True,
        target=archive.target.name,
        snapshot_id=snapshot_id,
        detail=", ".join(f.placed_at for f in result.files),
    )
    return result


def _restore(
    config: Config,
    archive: Archive,
    snapshot_id: str,
    doc_ids: tuple[str, ...],
    to_dir: Path | None,
    reporter: Reporter,
) -> RestoreResult:
    live = to_dir is None
    manifest = archive.manifest(snapshot_id)
    entries = select(manifest, doc_ids, live)
    placed: list[RestoredFile] = []
    if to_dir is not None:
        _check_destination(config, to_dir)
        to_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with scratch_dir(config.data_dir, "restore", base=to_dir / ".gristops-restore") as work:
            extract_verified(archive, manifest, entries, work, reporter)
            for e in entries:
                dest = to_dir / e.path
                dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.replace(work / e.path, dest)
                os.chmod(dest, e.mode & 0o700)
                placed.append(RestoredFile(e.path, str(dest), None))
        (to_dir / ".gristops-restore").rmdir()
        return RestoreResult(archive.target.name, snapshot_id, tuple(placed))
    if not config.embedded:
        # A Grist server holds its documents in memory: they go in through its API.
        with scratch_dir(config.data_dir, "restore") as work:
            extract_verified(archive, manifest, entries, work, reporter)
            for e in entries:
                assert e.doc_id is not None
                kept = restore_into_grist(config, e.doc_id, work / e.path)
                placed.append(
                    RestoredFile(e.path, f"{config.grist.base_url}/doc/{e.doc_id}", str(kept))
                )
        return RestoreResult(archive.target.name, snapshot_id, tuple(placed))
    config.docs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with scratch_dir(config.data_dir, "restore") as work:
        extract_verified(archive, manifest, entries, work, reporter)
        for e in entries:
            dest = document_file(config.docs_dir, e.doc_id or "")
            previous = swap_into_place(work / e.path, dest, e.mode & 0o700 or 0o600)
            placed.append(RestoredFile(e.path, str(dest), str(previous) if previous else None))
    return RestoreResult(archive.target.name, snapshot_id, tuple(placed))
