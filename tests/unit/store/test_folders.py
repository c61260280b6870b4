"""Documents-folder checks of `gristops config check` that need no Grist server."""

from __future__ import annotations

from pathlib import Path

from gristops.config import parse_config
from gristops.store.folders import embedded_problems, folder_problems, hybrid_problems


def test_embedded_store_on_its_own_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "data" / "docs").mkdir(parents=True)
    config = parse_config(f"data_dir: {tmp_path / 'data'}\ngrist: {{document_id: D}}")
    assert folder_problems(config) == []


def test_embedded_store_beside_grists_home_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "persist" / "docs").mkdir(parents=True)
    (tmp_path / "persist" / "home.sqlite3").write_bytes(b"")
    config = parse_config(f"data_dir: {tmp_path / 'persist'}\ngrist: {{document_id: D}}")
    [problem] = embedded_problems(config)
    assert "is used by a Grist server" in problem and "home.sqlite3" in problem
    assert "grist.base_url" in problem


def test_hybrid_docs_dir_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    config = parse_config(
        "grist: {base_url: 'http://127.0.0.1:9', api_key: k, document_id: D,"
        f" docs_dir: {tmp_path / 'nope'}}}"
    )
    [problem] = hybrid_problems(config)
    assert "is not a folder" in problem and "GRIST_DATA_DIR" in problem


def test_hybrid_check_says_when_the_server_cannot_be_asked(tmp_path: Path) -> None:
    config = parse_config(
        f"grist: {{base_url: 'http://127.0.0.1:9', api_key: k, document_id: D, docs_dir: {tmp_path}}}"
    )
    [problem] = folder_problems(
        config.model_copy(update={"grist": config.grist.model_copy(update={"retries": 0})})
    )
    assert problem.startswith("cannot list the documents of http://127.0.0.1:9")
