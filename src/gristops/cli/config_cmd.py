"""`gristops config check|sample`."""

from __future__ import annotations

import anyio
import typer
import yaml

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config import Config
from gristops.config.access import rule_problems
from gristops.config.load import literal_secrets
from gristops.config.sample import sample_yaml
from gristops.errors import ConfigError, NotFound, Unavailable
from gristops.store.factory import open_store
from gristops.store.folders import folder_problems
from gristops.store.schema_summary import table_columns

app = typer.Typer(help="Validate or print gristops.yaml.", no_args_is_help=True)


@app.command()
def check(config: ConfigOption = DEFAULT_CONFIG, json_out: JsonOption = False) -> None:
    """Validate the config, and its access rules against the document, reporting every problem at once."""
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
    problems, unchecked = _check_rules(cfg)
    if problems:
        raise ConfigError(
            "\n".join(f"{config}: {problem}" for problem in problems),
            "fix roles: in gristops.yaml to name the document's tables and columns",
        )
    if unchecked:
        warnings.append(f"access rules not checked against the document: {unchecked}")
    if json_out:
        emit_json(
            {
                "ok": True,
                "store": cfg.store_kind,
                "rules_checked": not unchecked,
                "warnings": warnings,
            }
        )
        return
    for w in warnings:
        out.print(f"[yellow]warning:[/] {w}")
    store = {
        "embedded": "embedded .grist files",
        "grist": f"Grist server {cfg.grist.base_url}",
        "hybrid": f"hybrid: reads {cfg.grist.docs_dir}, writes {cfg.grist.base_url}",
    }[cfg.store_kind]
    out.print(f"{config}: ok ({store}, data in {cfg.data_dir})")


def _check_rules(config: Config) -> tuple[list[str], str]:
    """Problems of the access rules against the document, or why it could not be read."""

    async def main() -> dict[str, dict[str, bool]]:
        store = open_store(config)
        try:
            return await table_columns(store, config.grist.document_id)
        finally:
            await store.aclose()

    try:
        tables = anyio.run(main)
    except (NotFound, Unavailable) as exc:
        return [], exc.message
    auth = config.auth
    problems = rule_problems(
        config.roles, tables, auth.users_table, auth.users_table_schema.password_field
    )
    return problems, ""


@app.command()
def sample() -> None:
    """Print a commented sample gristops.yaml with every key and its default."""
    typer.echo(sample_yaml(), nl=False)
