"""`gristops config check|sample`."""

from __future__ import annotations

import typer
import yaml

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config.load import literal_secrets
from gristops.config.sample import sample_yaml

app = typer.Typer(help="Validate or print gristops.yaml.", no_args_is_help=True)


@app.command()
def check(config: ConfigOption = DEFAULT_CONFIG, json_out: JsonOption = False) -> None:
    """Validate the config and report every problem at once."""
    cfg = load(config)
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    warnings = [
        f"{key} is written literally; use ${{ENV}} or {key}_file so it stays out of the file"
        for key in literal_secrets(raw, cfg)
    ]
    if json_out:
        emit_json(
            {"ok": True, "store": "embedded" if cfg.embedded else "grist", "warnings": warnings}
        )
        return
    for w in warnings:
        out.print(f"[yellow]warning:[/] {w}")
    store = "embedded .grist files" if cfg.embedded else f"Grist server {cfg.grist.base_url}"
    out.print(f"{config}: ok ({store}, data in {cfg.data_dir})")


@app.command()
def sample() -> None:
    """Print a commented sample gristops.yaml with every key and its default."""
    typer.echo(sample_yaml(), nl=False)
