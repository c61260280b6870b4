"""The snapshot manifest: what a snapshot holds, and how to put each file back together.

Stored as `snapshots/<id>.manifest`, sealed like a chunk (zstd, then age when
encrypted), written after every chunk: a snapshot exists only when its
manifest does. Each file is the concatenation of its chunks, in order; a chunk
is `chunks/<first 2 hex>/<sha256 of its plaintext>`.
"""

from __future__ import annotations

import calendar
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from gristops.errors import CorruptBlob
from gristops.store.location import is_doc_id

FORMAT = "gristops-snapshot/1"
SNAPSHOTS = "snapshots/"
_ID = re.compile(r"^\d{8}T\d{9}Z-[0-9a-f]{6}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
Role = str  # "document" | "state" | "config" | "extra"


def new_snapshot_id(now: float | None = None) -> str:
    """`YYYYMMDDTHHMMSSmmmZ-xxxxxx`: sorts by creation time (to the millisecond), unique
    across hosts by its random suffix."""
    moment = now if now is not None else time.time()
    millis = int(moment * 1000) % 1000
    return (
        f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(moment))}{millis:03d}Z-{secrets.token_hex(3)}"
    )


def is_snapshot_id(value: str) -> bool:
    return bool(_ID.match(value))


def snapshot_key(snapshot_id: str) -> str:
    return f"{SNAPSHOTS}{snapshot_id}.manifest"


def chunk_key(sha256: str) -> str:
    return f"chunks/{sha256[:2]}/{sha256}"


def snapshot_created(snapshot_id: str) -> float:
    """Creation time (epoch seconds) encoded in the id."""
    seconds = calendar.timegm(time.strptime(snapshot_id[:15], "%Y%m%dT%H%M%S"))
    return seconds + int(snapshot_id[15:18]) / 1000


@dataclass(frozen=True)
class FileEntry:
    path: str  # where it goes inside the snapshot, e.g. docs/Shop.grist
    role: Role
    source: str  # where it was read from
    size: int
    sha256: str
    mode: int
    chunks: tuple[str, ...]
    doc_id: str | None = None
    sqlite: dict[str, Any] | None = None  # {"integrity": "ok", "tables": {name: rows}}

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["chunks"] = list(self.chunks)
        return data


@dataclass(frozen=True)
class Manifest:
    id: str
    created: float
    host: str
    version: str
    chunk_size: int
    files: tuple[FileEntry, ...]
    new_bytes: int = 0  # stored (sealed) bytes this snapshot added to its target

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def documents(self) -> list[FileEntry]:
        return [f for f in self.files if f.role == "document"]

    def to_bytes(self) -> bytes:
        data = {
            "format": FORMAT,
            "id": self.id,
            "created": self.created,
            "host": self.host,
            "version": self.version,
            "chunk_size": self.chunk_size,
            "new_bytes": self.new_bytes,
            "files": [f.to_json() for f in self.files],
        }
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> Manifest:
        """Parse and check a manifest; CorruptBlob when it is not a well-formed one."""
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT}")
            files = tuple(_entry(f) for f in data["files"])
            manifest = cls(
                id=str(data["id"]),
                created=float(data["created"]),
                host=str(data["host"]),
                version=str(data["version"]),
                chunk_size=int(data["chunk_size"]),
                files=files,
                new_bytes=int(data.get("new_bytes", 0)),
            )
            if not is_snapshot_id(manifest.id):
                raise ValueError(f"bad snapshot id {manifest.id!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptBlob(
                f"{where} is not a valid gristops manifest: {exc}",
                "the manifest was replaced or damaged; use another snapshot",
            ) from None
        return manifest


def _entry(raw: dict[str, Any]) -> FileEntry:
    chunks = tuple(str(c) for c in raw["chunks"])
    if not all(_HEX64.match(c) for c in chunks) or not _HEX64.match(str(raw["sha256"])):
        raise ValueError(f"bad checksum in {raw.get('path')!r}")
    path = str(raw["path"])
    if path.startswith("/") or ".." in path.split("/"):
        raise ValueError(f"unsafe path {path!r}")
    doc_id = raw.get("doc_id")
    if doc_id is not None and not is_doc_id(str(doc_id)):
        raise ValueError(f"bad document id {doc_id!r}")
    sqlite = raw.get("sqlite")
    return FileEntry(
        path=path,
        role=str(raw["role"]),
        source=str(raw["source"]),
        size=int(raw["size"]),
        sha256=str(raw["sha256"]),
        mode=int(raw["mode"]),
        chunks=chunks,
        doc_id=None if doc_id is None else str(doc_id),
        sqlite=dict(sqlite) if isinstance(sqlite, dict) else None,
    )
