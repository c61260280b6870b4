"""`gristops loadtest [PLAN]`: staged app-like traffic, thresholds, a baseline, JSON and HTML out.

Exit 0 when every check passes, 1 when one fails (each failing check is
listed), 2 for a usage or plan error. Locust runs in a child process
(gristops.loadtest.runner): nothing here imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, err, load, out
from gristops.errors import LoadtestFailed
from gristops.files import write_atomic
from gristops.loadtest.launch import Target, run_plan
from gristops.loadtest.plan import Plan, default_plan_text, load_plan
from gristops.loadtest.report import render
from gristops.loadtest.result import Progress as RunProgress
from gristops.loadtest.result import Result, load_result
from gristops.loadtest.verdict import judge
from gristops.observe.logging import configure_logging


def _default_url(config: Path) -> str:
    server = load(config).server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host  # noqa: S104
    return f"http://{host}:{server.port}"


def _run(plan: Plan, target: Target, plan_name: str, quiet: bool) -> Result:
    if quiet:
        return run_plan(plan, target, plan_name=plan_name)
    columns = (
        TextColumn("loadtest"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("starting", total=plan.seconds)

        def show(now: RunProgress) -> None:
            bar.update(task, completed=min(now.t, now.seconds), description=now.line())

        return run_plan(plan, target, plan_name=plan_name, on_progress=show)


def _summary(result: Result) -> None:
    table = Table("", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", box=None)
    for name, stats in [("overall", result.overall), *sorted(result.scenarios.items())]:
        table.add_row(name, str(stats.requests), f"{stats.error_rate:.2%}", f"{stats.rps:.1f}",
                      f"{stats.p50_ms:.0f}", f"{stats.p95_ms:.0f}", f"{stats.p99_ms:.0f}")  # fmt: skip
    out.print(table)
    for check in result.checks:
        mark = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        out.print(f"{mark} {check.describe()}", markup=True)


def loadtest(
    plan_file: Annotated[
        Path | None,
        typer.Argument(
            help="The plan (YAML). Default: the shipped plan for `gristops init`'s "
            "sample document (see --print-default).",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Target: the gateway (http://127.0.0.1:8484) or the edge "
            "(https://host). Default: the gateway of --config."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="CA certificate (PEM) an https target chains to."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON result here.")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="A saved result (--out) to compare p95 with.")
    ] = None,
    max_regression: Annotated[
        float, typer.Option(min=0, help="Percent p95 may grow over the baseline before it fails.")
    ] = 20.0,
    from_result: Annotated[
        Path | None,
        typer.Option("--from-result", help="Judge and report a saved result instead of running."),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate the plan and exit.")] = False,
    print_default: Annotated[
        bool, typer.Option("--print-default", help="Print the shipped plan and exit.")
    ] = False,
) -> None:
    """Send app-like traffic in stages (Locust) and judge it: exit 0 pass, 1 a check failed, 2 bad input."""
    if print_default:
        typer.echo(default_plan_text(), nl=False)
        return
    configure_logging(
        "warning", json_lines=None
    )  # stdout is the result; the progress line says the rest
    plan = load_plan(plan_file)
    plan_name = str(plan_file) if plan_file else "default"
    saved = load_result(baseline, "baseline") if baseline else None
    if check:
        out.print(f"{plan_name}: valid; {len(plan.scenarios)} scenarios, {len(plan.stages)} "
                  f"stages over {plan.seconds:g} s")  # fmt: skip
        return
    if from_result is not None:
        measured = load_result(from_result)
    else:
        target = Target(url or _default_url(config), ca_file)
        measured = _run(plan, target, plan_name, quiet=as_json)
    result = judge(measured, plan.thresholds, saved, max_regression)
    document = result.model_dump_json(indent=2)
    if out_file is not None:
        write_atomic(out_file, document, 0o644)
    if html is not None:
        write_atomic(html, render(result, plan.thresholds.overall.p95_ms), 0o644)
    if as_json:
        typer.echo(document)
    else:
        _summary(result)
    failed = result.failed()
    if failed:
        raise LoadtestFailed(
            f"{len(failed)} of {len(result.checks)} checks failed:\n"
            + "\n".join(f"  {c.describe()}" for c in failed),
            "the report (--html) shows when it went wrong; --json has every figure",
        )
