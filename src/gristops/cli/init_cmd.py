"""`gristops init`: a working sample document and config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gristops.cli.common import JsonOption, emit_json, out
from gristops.cli.init_sample import sample_config, sample_tables
from gristops.config import parse_config
from gristops.errors import BadRequest, GristopsError
from gristops.gateway.passwords import check_email, generate_password, make_hash
from gristops.store.location import document_file, is_doc_id
from gristops.store.newdoc.document import create_document

_FORCE_HINT = "pass --force to replace it (its data is lost), or choose another --dir"


def init(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write gristops.yaml and data/.")
    ] = Path("."),
    doc_id: Annotated[str, typer.Option("--doc-id", help="Id of the sample document.")] = "Shop",
    admin_email: Annotated[
        str, typer.Option("--admin-email", help="Login of the first admin user.")
    ] = "admin@example.com",
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing config and document.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Write a sample .grist document (with one admin user) and a gristops.yaml to serve it."""
    if not is_doc_id(doc_id):
        raise BadRequest(
            f"--doc-id {doc_id!r} is not a valid document id",
            "use letters, digits, _ and -, starting with a letter or digit",
        )
    admin_email = check_email(admin_email, "--admin-email")
    config_path = directory / "gristops.yaml"
    text = sample_config(doc_id)
    config = parse_config(text, str(config_path), directory.resolve())
    doc_path = document_file(config.docs_dir, doc_id)
    if not force:
        for existing in (config_path, doc_path):
            if existing.exists():
                raise GristopsError(f"{existing} already exists", _FORCE_HINT)

    _private_dir(config.data_dir)
    _private_dir(config.docs_dir)
    password = generate_password()
    password_hash = make_hash(password, config.auth.bcrypt_rounds)
    tables = sample_tables(admin_email, password_hash)
    create_document(doc_path, tables, overwrite=force)
    _write_private(config_path, text, force)

    shown_doc = directory / doc_path.relative_to(directory.resolve())
    serve = f"gristops serve -c {config_path}"
    if json_out:
        emit_json(
            {
                "config": str(config_path),
                "document": str(shown_doc),
                "admin_email": admin_email,
                "admin_password": password,
                "next": serve,
            }
        )
        return
    table_ids = ", ".join(t.table_id for t in tables)
    for line in (
        f"wrote {config_path}",
        f"wrote {shown_doc} (tables {table_ids})",
        f"admin user: {admin_email}",
        f"admin password (shown only now, keep it safe): {password}",
        f"next: {serve}",
    ):
        out.print(line, markup=False)


def _private_dir(path: Path) -> None:
    """Create the directory readable by its owner only (and tighten it if it exists)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    except OSError as exc:
        raise GristopsError(
            f"{path}: cannot create directory: {exc.strerror}", "check --dir"
        ) from None


def _write_private(path: Path, text: str, replace: bool) -> None:
    """Write a 0600 file; without `replace`, refuse one that appeared meanwhile."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise GristopsError(f"{path} already exists", _FORCE_HINT) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)
        handle.write(text)
