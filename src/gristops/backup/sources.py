"""What a snapshot holds, and a consistent copy of each piece in a work directory.

Documents (`docs/<id>.grist`): the embedded store's files, a Grist server's
data directory on this host, or each server document downloaded over its
REST API. Then the state DB (`state/state.db`, or `state/state.pgdump` made by
pg_dump when the state is on PostgreSQL), the config file
(`config/<name>`) and `backup.extra_paths` (`extra/<absolute path>`). Key files
(the age identity, the passphrase file, data_dir/keys) are never included.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from gristops.backup.crypto import Keys
from gristops.backup.sqlitefile import SqliteReport, copy_sqlite, inspect_sqlite, is_sqlite
from gristops.config import Config
from gristops.errors import ConfigError, GristopsError, Unavailable
from gristops.runtime import pgdump
from gristops.store.location import document_file, documents

_DOWNLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One file to back up: where it lives and where it goes in the snapshot."""

    path: str
    role: str
    live: Path
    doc_id: str | None = None
    download: bool = False  # fetched from the Grist server instead of read from `live`
    pg_dump: bool = False  # the PostgreSQL state DB, dumped instead of read from `live`


@dataclass(frozen=True)
class Prepared:
    """A consistent copy of a source, with its checksums and (SQLite) health report."""

    source: Source
    copy: Path
    size: int
    sha256: str
    mode: int
    chunks: tuple[str, ...]
    sqlite: SqliteReport | None


def _documents(config: Config) -> Iterator[Source]:
    # Hybrid mode names the Grist server's documents folder already.
    server_folder = config.backup.server_data_dir or config.grist.docs_dir
    if config.embedded or server_folder is not None:
        folder = config.docs_dir if config.embedded else server_folder
        assert folder is not None
        for doc_id, path in documents(folder).items():
            yield Source(f"docs/{path.name}", "document", path, doc_id=doc_id)
        return
    for doc_id in config.backup.server_documents or (config.grist.document_id,):
        name = document_file(Path("docs"), doc_id).as_posix()
        yield Source(name, "document", Path(doc_id), doc_id, download=True)


def _secret_paths(config: Config, keys: Keys) -> set[Path]:
    return {p.resolve() for p in keys.secret_files} | {config.keys_dir.resolve()}


def _extras(config: Config, secret: set[Path]) -> Iterator[Source]:
    for root in config.backup.extra_paths:
        root = root if root.is_absolute() else config.data_dir / root
        if not root.exists():
            raise ConfigError(
                f"backup.extra_paths: {root} does not exist", "fix the path or remove it"
            )
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            resolved = path.resolve()
            if resolved in secret or any(s in resolved.parents for s in secret):
                continue  # keys never go into the archive
            yield Source(f"extra{resolved.as_posix()}", "extra", resolved)


def plan(config: Config, keys: Keys) -> list[Source]:
    """Every file the next snapshot will hold, in snapshot order."""
    sources = list(_documents(config))
    home = config.backup.server_home_db
    if home is not None:
        if not home.is_file():
            raise ConfigError(
                f"backup.server_home_db: {home} does not exist",
                "point it at the Grist server's home.sqlite3, or remove the key",
            )
        resolved = home.resolve()
        sources.append(Source(f"extra{resolved.as_posix()}", "extra", resolved))
    if config.state.url is not None:
        sources.append(Source("state/state.pgdump", "state", Path("state.pgdump"), pg_dump=True))
    elif config.state_path.is_file():
        sources.append(Source("state/state.db", "state", config.state_path))
    if config.source_path is not None and config.source_path.is_file():
        sources.append(Source(f"config/{config.source_path.name}", "config", config.source_path))
    sources.extend(_extras(config, _secret_paths(config, keys)))
    return sources


def _download(config: Config, doc_id: str, dest: Path) -> None:
    url = f"{config.grist.base_url}/api/docs/{doc_id}/download"
    headers = {"Authorization": f"Bearer {config.grist_api_key()}"}
    try:
        with httpx.stream("GET", url, headers=headers, timeout=config.grist.timeout) as r:
            if r.status_code != 200:
                raise Unavailable(
                    f"downloading document {doc_id} from {config.grist.base_url} gave HTTP "
                    f"{r.status_code}",
                    "check backup.server_documents and that the API key may read the document",
                )
            with dest.open("wb") as f:
                for part in r.iter_bytes(_DOWNLOAD_CHUNK):
                    f.write(part)
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"cannot download document {doc_id} from {config.grist.base_url}: {exc}",
            "check that the Grist server is up and grist.base_url is right",
        ) from None


def _checksums(path: Path, chunk_size: int) -> tuple[str, tuple[str, ...], int]:
    whole = hashlib.sha256()
    chunks = []
    size = 0
    with path.open("rb") as f:
        while block := f.read(chunk_size):
            whole.update(block)
            chunks.append(hashlib.sha256(block).hexdigest())
            size += len(block)
    return whole.hexdigest(), tuple(chunks), size


def prepare(config: Config, source: Source, workdir: Path, index: int) -> Prepared:
    """Copy `source` consistently into `workdir` and checksum the copy."""
    copy = workdir / f"{index:05d}-{Path(source.path).name}"
    try:
        if source.download:
            assert source.doc_id is not None
            _download(config, source.doc_id, copy)
            mode = 0o600
        elif source.pg_dump:
            assert isinstance(config.state_location, str)
            pgdump.dump(config.state_location, copy)
            mode = 0o600
        else:
            mode = stat.S_IMODE(source.live.stat().st_mode)
            if is_sqlite(source.live):
                copy_sqlite(source.live, copy)
            else:
                shutil.copyfile(source.live, copy)
    except OSError as exc:
        raise GristopsError(
            f"cannot read {source.live} for the backup: {exc.strerror or exc}",
            "check that the file exists and the gristops user may read it",
        ) from None
    os.chmod(copy, 0o600)
    report = inspect_sqlite(copy) if is_sqlite(copy) else None
    sha, chunks, size = _checksums(copy, config.backup.chunk_size)
    return Prepared(source, copy, size, sha, mode, chunks, report)
