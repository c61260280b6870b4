"""Document ids map to files directly inside their folder, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.errors import NotFound
from gristops.store.location import document_file, documents, existing_document


@pytest.mark.parametrize("doc_id", ["../etc/passwd", "a/b", ".hidden", "", "x" * 101, "Shop.grist"])
def test_ids_that_could_leave_the_folder_are_not_found(tmp_path: Path, doc_id: str) -> None:
    with pytest.raises(NotFound, match="document not found"):
        document_file(tmp_path, doc_id)


def test_a_symlinked_document_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.grist"
    outside.write_bytes(b"")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Shop.grist").symlink_to(outside)
    with pytest.raises(NotFound) as refused:
        existing_document(docs, "Shop")
    assert refused.value.hint == "no file Shop.grist in the documents folder"


def test_the_listing_holds_regular_documents_with_valid_ids_only(tmp_path: Path) -> None:
    for name in ("Shop.grist", "Crm-2.grist", "bad id.grist", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "Link.grist").symlink_to(tmp_path / "Shop.grist")
    assert documents(tmp_path) == {
        "Crm-2": tmp_path / "Crm-2.grist",
        "Shop": tmp_path / "Shop.grist",
    }
    assert documents(tmp_path / "missing") == {}
