"""`gristops config check|sample`."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer
import yaml

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config import Config
from gristops.config.access import rule_problems
from gristops.config.files import unreadable_files
from gristops.config.load import literal_secrets
from gristops.config.sample import sample_yaml
from gristops.errors import ConfigError, GristopsError
from gristops.store.checks import document_problems
from gristops.store.factory import open_store
from gristops.store.folders import folder_problems
from gristops.store.schema_summary import table_columns

app = typer.Typer(help="Validate or print gristops.yaml.", no_args_is_help=True)


@app.command()
def check(
    config: ConfigOption = DEFAULT_CONFIG,
    no_store: Annotated[
        bool,
        typer.Option("--no-store", help="Check the file only, without reading the document."),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Validate the config and what serve needs: secret files, the document, its users
    table and the access rules against its tables and columns.

    Every problem is reported at once, one line each.
    """
    cfg = load(config)
    problems = folder_problems(cfg)
    if problems:
        raise ConfigError(
            "\n".join(f"{config}: {problem}" for problem in problems),
            "fix the documents folder settings under grist: (see docs/gateway.md, Stores)",
        )
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    warnings = [
        f"{key} is written literally; use ${{ENV}} or {key}_file so it stays out of the file"
        for key in literal_secrets(raw, cfg)
    ]
    problems = unreadable_files(cfg)
    rules_checked = False
    if no_store:
        warnings.append("access rules not checked against the document (--no-store)")
    elif not any(p.startswith("grist.") for p in problems):
        found, rules_checked = _store_problems(cfg)
        problems += found
    if json_out:
        emit_json(
            {
                "ok": not problems,
                "store": cfg.store_kind,
                "rules_checked": rules_checked,
                "problems": problems,
                "warnings": warnings,
            }
        )
    else:
        for w in warnings:
            out.print(f"[yellow]warning:[/] {w}")
    if problems:
        raise ConfigError(
            "\n".join(f"{config}: {p}" for p in problems),
            "fix these before `gristops serve`; `gristops init` writes a working sample",
        )
    if json_out:
        return
    shown = {
        "embedded": "embedded .grist files",
        "grist": f"Grist server {cfg.grist.base_url}",
        "hybrid": f"hybrid: reads {cfg.grist.docs_dir}, writes {cfg.grist.base_url}",
    }[cfg.store_kind]
    out.print(f"{config}: ok ({shown}, data in {cfg.data_dir})")


def _store_problems(cfg: Config) -> tuple[list[str], bool]:
    """What `serve` would find wrong with the document and the rules; whether rules were checked."""

    async def main() -> tuple[list[str], bool]:
        try:
            store = open_store(cfg)
        except GristopsError as exc:
            return [f"grist: cannot open the store: {exc.message}"], False
        try:
            problems = await document_problems(cfg, store)
            if problems:
                return problems, False
            tables = await table_columns(store, cfg.grist.document_id)
        finally:
            await store.aclose()
        auth = cfg.auth
        schema = auth.users_table_schema
        return rule_problems(cfg.roles, tables, auth.users_table, schema.password_field), True

    return anyio.run(main)


@app.command()
def sample() -> None:
    """Print a commented sample gristops.yaml with every key and its default."""
    typer.echo(sample_yaml(), nl=False)
