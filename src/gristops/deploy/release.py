"""A release: a gristops wheel, optionally a static web bundle and the commit it was built from.

RELEASE is either a wheel file, or a directory holding exactly one `*.whl`,
optionally `web/` (the app's static bundle, e.g. Flutter's build/web) and
optionally `release.json` (`{"commit": "...", "commit_time": "2026-05-01T12:00:00Z"}`,
which lets `gristops dora` measure lead time). Its id is a hash of the
content, so deploying the same content twice is recognised as no change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from gristops.errors import BadRequest

CHUNK = 1 << 20


@dataclass(frozen=True)
class Release:
    id: str
    version: str
    wheel: Path
    web: Path | None
    commit: str | None
    commit_time: float | None


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)


def _hash_tree(digest: hashlib._Hash, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        _hash_file(digest, path)


def _metadata(directory: Path) -> tuple[str | None, float | None]:
    meta_path = directory / "release.json"
    if not meta_path.exists():
        return None, None
    try:
        meta = json.loads(meta_path.read_text())
        when = meta.get("commit_time")
        commit_time = dt.datetime.fromisoformat(when).timestamp() if when else None
    except (ValueError, AttributeError) as exc:
        raise BadRequest(
            f"{meta_path} is not valid: {exc}",
            'write {"commit": "<sha>", "commit_time": "<ISO 8601 time>"}',
        ) from None
    commit = meta.get("commit")
    return (str(commit) if commit else None), commit_time


def load_release(path: Path) -> Release:
    """The release at `path` (a wheel file or a release directory)."""
    path = path.resolve()
    if path.is_file() and path.suffix == ".whl":
        wheel, web, directory = path, None, None
    elif path.is_dir():
        wheels = sorted(path.glob("*.whl"))
        if len(wheels) != 1:
            raise BadRequest(
                f"{path} holds {len(wheels)} wheels; a release holds exactly one",
                "build it with `pip wheel . --no-deps -w DIR`",
            )
        wheel, directory = wheels[0], path
        web = path / "web" if (path / "web").is_dir() else None
    else:
        raise BadRequest(
            f"{path} is neither a wheel nor a release directory",
            "pass a gristops-*.whl file or a directory holding one (and optionally web/)",
        )
    name_parts = wheel.name.split("-")
    if len(name_parts) < 5 or name_parts[0] != "gristops":
        raise BadRequest(
            f"{wheel.name} is not a gristops wheel", "build one with `pip wheel . --no-deps`"
        )
    digest = hashlib.sha256()
    _hash_file(digest, wheel)
    if web is not None:
        digest.update(b"\0web\0")
        _hash_tree(digest, web)
    commit, commit_time = _metadata(directory) if directory else (None, None)
    version = name_parts[1]
    return Release(
        id=f"{version}-{digest.hexdigest()[:12]}",
        version=version,
        wheel=wheel,
        web=web,
        commit=commit,
        commit_time=commit_time,
    )
