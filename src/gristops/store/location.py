"""Where a document's `.grist` file lives: the one mapping from document id to file.

A document id is a plain name (letters, digits, `-` and `_`; see
DOC_ID_PATTERN), so `<folder>/<id>.grist` is always directly inside the
folder. The folder is the embedded store's `docs_dir` or, for a Grist server on
this host, its data directory.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from gristops.config.model import DOC_ID_PATTERN
from gristops.errors import NotFound

SUFFIX = ".grist"
_DOC_ID = re.compile(DOC_ID_PATTERN)


def is_doc_id(text: str) -> bool:
    return _DOC_ID.match(text) is not None


def document_file(folder: Path, doc_id: str) -> Path:
    """The file of `doc_id` in `folder` (which need not exist yet); NotFound for a bad id."""
    if not is_doc_id(doc_id):
        raise NotFound("document not found", "document ids are letters, digits, - and _")
    return folder / f"{doc_id}{SUFFIX}"


def existing_document(folder: Path, doc_id: str) -> Path:
    """The file of `doc_id` in `folder`; NotFound unless it is a regular file (not a symlink)."""
    path = document_file(folder, doc_id)
    try:
        regular = stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        regular = False
    if not regular:
        raise NotFound("document not found", f"no file {doc_id}{SUFFIX} in the documents folder")
    return path


def documents(folder: Path) -> dict[str, Path]:
    """Every document in `folder` by id: regular `.grist` files with a valid id, sorted."""
    if not folder.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(folder.glob(f"*{SUFFIX}"))
        if is_doc_id(path.stem) and path.is_file() and not path.is_symlink()
    }
