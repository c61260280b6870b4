"""`gristops config check|sample`."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config.sample import sample_yaml
from gristops.errors import ConfigError
from gristops.store.preflight import check_config

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
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    report = check_config(cfg, raw, with_store=not no_store)
    problems, warnings = report.problems, report.warnings
    if json_out:
        emit_json(
            {
                "ok": not problems,
                "store": cfg.store_kind,
                "rules_checked": report.rules_checked,
                "problems": problems,
                "warnings": warnings,
            }
        )
    else:
        for w in warnings:
            out.print(f"[yellow]warning:[/] {w}")
    if problems:
        raise ConfigError("\n".join(f"{config}: {p}" for p in problems), report.hint)
    if json_out:
        return
    shown = {
        "embedded": "embedded .grist files",
        "grist": f"Grist server {cfg.grist.base_url}",
        "hybrid": f"hybrid: reads {cfg.grist.docs_dir}, writes {cfg.grist.base_url}",
    }[cfg.store_kind]
    out.print(f"{config}: ok ({shown}, data in {cfg.data_dir})")


@app.command()
def sample() -> None:
    """Print a commented sample gristops.yaml with every key and its default."""
    typer.echo(sample_yaml(), nl=False)
