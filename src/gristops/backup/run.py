"""`gristops backup run`: one consistent snapshot, stored on every target.

The files are copied once (SQLite through the online backup API) into a
scratch directory, then each target gets the chunks it lacks and, last, the
manifest. A failing target is recorded and the others go on.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from dataclasses import dataclass

import structlog

from gristops import __version__
from gristops.backup.archive import Archive
from gristops.backup.catalog import Catalog
from gristops.backup.configured_archives import open_archive, target_names
from gristops.backup.crypto import Keys
from gristops.backup.lock import backup_lock
from gristops.backup.manifest import FileEntry, Manifest, new_snapshot_id
from gristops.backup.progress import Reporter, Silent
from gristops.backup.scratch import scratch_dir
from gristops.backup.sources import Prepared, plan, prepare
from gristops.config import Config
from gristops.errors import GristopsError
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.backup")


@dataclass(frozen=True)
class TargetOutcome:
    target: str
    ok: bool
    size: int = 0
    new_bytes: int = 0
    error: str = ""
    hint: str = ""


@dataclass(frozen=True)
class RunResult:
    snapshot_id: str
    files: int
    outcomes: tuple[TargetOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def _entry(p: Prepared) -> FileEntry:
    return FileEntry(
        path=p.source.path,
        role=p.source.role,
        source=str(p.source.live),
        size=p.size,
        sha256=p.sha256,
        mode=p.mode,
        chunks=p.chunks,
        doc_id=p.source.doc_id,
        sqlite=p.sqlite.to_json() if p.sqlite else None,
    )


def _store(
    config: Config, archive: Archive, manifest: Manifest, files: list[Prepared], reporter: Reporter
) -> Manifest:
    advance = reporter.task(f"backup → {archive.target.name}", manifest.size)
    known = archive.known_chunks()
    new_bytes = archive.upload(files, config.backup.chunk_size, known, advance)
    stored = dataclasses.replace(manifest, new_bytes=new_bytes)
    archive.write_manifest(stored)
    return stored


def run_backup(
    config: Config, state: StateDB, only: str | None = None, reporter: Reporter | None = None
) -> RunResult:
    """Take a snapshot and store it on every target (or only `only`)."""
    reporter = reporter or Silent()
    catalog = Catalog(state)
    names = target_names(config, only)
    started = time.time()
    snapshot_id = new_snapshot_id(started)
    outcomes: list[TargetOutcome] = []
    with backup_lock(config.data_dir), scratch_dir(config.data_dir, "run") as work:
        try:
            keys = Keys.from_config(config.backup)
            sources = plan(config, keys)
            files = [prepare(config, s, work, i) for i, s in enumerate(sources)]
        except GristopsError as exc:
            for name in names:
                catalog.record_run(
                    "run", started_at=started, ok=False, target=name, detail=exc.message
                )
            raise
        manifest = Manifest(
            id=snapshot_id,
            created=started,
            host=socket.gethostname(),
            version=__version__,
            chunk_size=config.backup.chunk_size,
            files=tuple(_entry(p) for p in files),
        )
        for name in names:
            try:
                stored = _store(config, open_archive(config, keys, name), manifest, files, reporter)
            except GristopsError as exc:
                log.warning("backup.target_failed", target=name, error=exc.message)
                outcomes.append(TargetOutcome(name, False, error=exc.message, hint=exc.hint))
                catalog.record_run(
                    "run", started_at=started, ok=False, target=name, detail=exc.message
                )
                continue
            catalog.record_snapshot(name, stored)
            catalog.record_run(
                "run",
                started_at=started,
                ok=True,
                target=name,
                snapshot_id=snapshot_id,
                size=stored.new_bytes,
            )
            log.info("backup.stored", target=name, snapshot=snapshot_id, new_bytes=stored.new_bytes)
            outcomes.append(TargetOutcome(name, True, stored.size, stored.new_bytes))
    return RunResult(snapshot_id, len(files), tuple(outcomes))
