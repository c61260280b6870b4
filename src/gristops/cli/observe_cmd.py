"""`gristops observe render`: write the Prometheus, Alertmanager and Grafana configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, err, load, out
from gristops.errors import GristopsError
from gristops.observe.logging import configure_logging
from gristops.observe.stack import check_stack, write_stack
from gristops.runtime.process import find_program

app = typer.Typer(help="Metrics, alert rules and dashboards.", no_args_is_help=True)


@app.command("render")
def render(
    config: ConfigOption = DEFAULT_CONFIG,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write into (default: <data_dir>/observe)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Validate with promtool and amtool (skipped when they are not installed).",
        ),
    ] = True,
    alert_for: Annotated[
        str | None,
        typer.Option(
            "--alert-for",
            help="Replace every alert's `for:` (e.g. 5s) to test alert delivery; not for production.",
            hidden=True,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write prometheus.yml, the alert rules, alertmanager.yml and the Grafana dashboards."""
    cfg = load(config)
    configure_logging(
        cfg.log.level, cfg.log.json_lines
    )  # logs on stderr: stdout stays clean for --json
    target = out_dir or cfg.data_dir / "observe"
    written = write_stack(cfg, target, alert_for)
    checks: list[str] = []
    if check:
        try:
            find_program("promtool")
            find_program("amtool")
        except GristopsError as exc:
            err.print(f"not checked: {exc.message}")
        else:
            checks = check_stack(target)
    if not cfg.observe.receivers.model_dump(exclude_none=True):
        err.print("note: no receivers under observe.receivers: alerts only show in Alertmanager")
    if json_output:
        emit_json({"out": str(target), "files": [str(p) for p in written], "checks": checks})
        return
    for path in written:
        out.print(str(path.relative_to(target)), markup=False)
    for line in checks:
        out.print(line, markup=False)
    out.print(f"wrote {len(written)} files to {target}", markup=False)
