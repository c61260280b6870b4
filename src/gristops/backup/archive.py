"""One target's archive: chunks and manifests, sealed on the way in, checked on the way out.

Layout on the target:
    chunks/<sha[:2]>/<sha256 of the plaintext chunk>   zstd (+ age) blob
    snapshots/<snapshot id>.manifest                    zstd (+ age) JSON, written last
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gristops.backup.crypto import Sealer
from gristops.backup.manifest import (
    SNAPSHOTS,
    FileEntry,
    Manifest,
    chunk_key,
    is_snapshot_id,
    snapshot_key,
)
from gristops.backup.sources import Prepared
from gristops.backup.sqlitefile import inspect_sqlite
from gristops.backup.targets import Target
from gristops.errors import BlobNotFound, CorruptBlob, GristopsError, NotFound
from gristops.runtime import pgdump

Advance = Callable[[int], None]
# Chunks sealed and sent at once: compression and hashing release the GIL.
WORKERS = min(8, os.cpu_count() or 2)


def _nothing(_: int) -> None:
    return None


class Archive:
    """The snapshots stored on `target`."""

    def __init__(self, target: Target, sealer: Sealer) -> None:
        self.target = target
        self.sealer = sealer

    # -- writing ------------------------------------------------------------------

    def known_chunks(self) -> set[str]:
        return {key.rsplit("/", 1)[-1] for key in self.target.list("chunks/")}

    def upload(
        self, files: list[Prepared], chunk_size: int, known: set[str], advance: Advance = _nothing
    ) -> int:
        """Store every chunk of `files` the target lacks; the sealed bytes added."""

        def jobs() -> Iterator[tuple[Path, int, str]]:
            for p in files:
                for i, sha in enumerate(p.chunks):
                    if sha not in known:
                        known.add(sha)
                        yield p.copy, i * chunk_size, sha
                    else:
                        advance(min(chunk_size, p.size - i * chunk_size))

        def send(job: tuple[Path, int, str]) -> int:
            path, offset, sha = job
            with path.open("rb") as f:
                f.seek(offset)
                block = f.read(chunk_size)
            blob = self.sealer.seal(block)
            self.target.put(chunk_key(sha), blob)
            advance(len(block))
            return len(blob)

        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="backup-chunk")
        try:
            return sum(pool.map(send, jobs()))
        finally:
            # After a failure (target full), chunks still queued are not sent.
            pool.shutdown(wait=True, cancel_futures=True)

    def write_manifest(self, manifest: Manifest) -> None:
        self.target.put(snapshot_key(manifest.id), self.sealer.seal(manifest.to_bytes()))

    # -- reading ------------------------------------------------------------------

    def snapshot_ids(self) -> list[str]:
        """Ids of complete snapshots, oldest first."""
        ids = []
        for key in self.target.list(SNAPSHOTS):
            name = key[len(SNAPSHOTS) :]
            if name.endswith(".manifest") and is_snapshot_id(name[: -len(".manifest")]):
                ids.append(name[: -len(".manifest")])
        return sorted(ids)

    def manifest(self, snapshot_id: str) -> Manifest:
        where = f"snapshot {snapshot_id} on target {self.target.name!r}"
        try:
            blob = self.target.get(snapshot_key(snapshot_id))
        except BlobNotFound:
            raise NotFound(
                f"there is no {where}", "run `gristops backup list` to see the snapshots"
            ) from None
        manifest = Manifest.from_bytes(self.sealer.open(blob, f"the manifest of {where}"), where)
        if manifest.id != snapshot_id:
            raise CorruptBlob(
                f"the manifest of {where} names another snapshot ({manifest.id})",
                "the manifest was replaced; use another snapshot",
            )
        return manifest

    def chunk(self, sha: str, where: str) -> bytes:
        try:
            blob = self.target.get(chunk_key(sha))
        except BlobNotFound:
            raise CorruptBlob(
                f"{where}: chunk {sha[:12]} is missing", "use another snapshot"
            ) from None
        data = self.sealer.open(blob, f"{where}: chunk {sha[:12]}")
        if hashlib.sha256(data).hexdigest() != sha:
            raise CorruptBlob(
                f"{where}: chunk {sha[:12]} does not match its checksum", "use another snapshot"
            )
        return data

    def extract(
        self,
        manifest: Manifest,
        entries: Iterable[FileEntry],
        dest: Path,
        advance: Advance = _nothing,
    ) -> list[str]:
        """Rebuild `entries` under `dest` (paths as in the manifest) and check them.

        Returns the problems found (empty: every checksum, integrity check and
        row count matches the manifest). Files with problems are still written,
        so a person can look at them; callers must not put them live.
        """
        problems: list[str] = []
        for entry in entries:
            where = f"snapshot {manifest.id}: {entry.path}"
            out = dest / entry.path
            out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            whole = hashlib.sha256()
            try:
                with out.open("wb") as f:
                    os.chmod(out, 0o600)
                    for sha in entry.chunks:
                        data = self.chunk(sha, where)
                        whole.update(data)
                        f.write(data)
                        advance(len(data))
                    f.flush()
                    os.fsync(f.fileno())
            except CorruptBlob as exc:
                problems.append(exc.message)
                continue
            if whole.hexdigest() != entry.sha256:
                problems.append(f"{where}: the file does not match its checksum")
                continue
            problems.extend(_check_sqlite(entry, out, where))
            problems.extend(_check_pgdump(entry, out, where))
        return problems


def _check_pgdump(entry: FileEntry, path: Path, where: str) -> list[str]:
    """A PostgreSQL state dump must be readable whole by pg_restore."""
    if not entry.path.endswith(".pgdump"):
        return []
    try:
        pgdump.entries(path)
    except GristopsError as exc:
        return [f"{where}: pg_restore cannot read the dump: {exc.message.splitlines()[-1]}"]
    return []


def _check_sqlite(entry: FileEntry, path: Path, where: str) -> list[str]:
    if entry.sqlite is None:
        return []
    report = inspect_sqlite(path)
    problems = []
    if report.integrity != entry.sqlite.get("integrity"):
        problems.append(f"{where}: integrity_check says {report.integrity!r}")
    expected = entry.sqlite.get("tables", {})
    if report.tables != expected:
        diff = sorted(
            t for t in set(report.tables) | set(expected) if report.tables.get(t) != expected.get(t)
        )
        problems.append(f"{where}: row counts differ from the manifest in {', '.join(diff[:5])}")
    return problems
