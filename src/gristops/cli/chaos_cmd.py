"""`gristops chaos`: list and run the packaged Chaos Toolkit experiments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gristops.chaos.run import experiments, parse_value, run
from gristops.cli.common import JsonOption, emit_json, err, out
from gristops.errors import BadRequest
from gristops.observe.logging import configure_logging

app = typer.Typer(
    help="Chaos experiments: real faults (Grist killed, hung or slow, disk full, CPU stress, "
    "a deploy's new slot killed) "
    "against a running gateway, with their pass criteria.",
    no_args_is_help=True,
)

FIGURES_SHOWN = (
    "requests", "reads_failed", "writes_ok", "writes_failed", "failed_write_statuses",
    "failed_write_max_ms", "max_latency_ms", "read_p95_ms", "read_p95_before_ms", "read_p95_during_ms",
    "write_p50_before_ms", "write_p50_during_ms", "recovery_s", "ready_503_seen",
    "breaker_open_seen", "acknowledged_missing", "acknowledged_duplicated",
)  # fmt: skip


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The packaged experiments and what each checks."""
    found = experiments()
    if as_json:
        emit_json([{"name": e.name, "title": e.title, "description": e.description} for e in found])
        return
    width = max((len(e.name) for e in found), default=0)
    for each in found:
        out.print(f"{each.name:<{width}}  {each.title}")


def _variables(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"--var {pair!r} is not KEY=VALUE", hint="e.g. --var clients=20")
        found[key] = parse_value(value)
    return found


@app.command("run")
def run_(
    name: Annotated[str, typer.Argument(help="Experiment name (see `gristops chaos list`).")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="KEY=VALUE over the experiment's configuration (repeatable)."),
    ] = None,
    short: Annotated[
        bool, typer.Option("--short", help="The shortened timings (seconds, as in CI).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run one experiment; exit 1 when a pass criterion, the steady state or a rollback failed.

    The target comes from GRISTOPS_CHAOS_* variables or --var (gateway_url, email,
    doc_id, ...); the password from GRISTOPS_CHAOS_PASSWORD. See docs/chaos.md.
    """
    variables = _variables(var or [])
    # Chaos Toolkit's progress (each activity as it starts and ends) goes to stderr with the
    # other log lines: stdout stays clean for --json.
    configure_logging("info", json_lines=None)
    outcome = run(name, variables, short=short)
    if as_json:
        emit_json(outcome.as_dict())
    else:
        verdict = "passed" if outcome.passed else "FAILED"
        out.print(f"{name}: {verdict} in {outcome.seconds:.1f} s")
        for key in FIGURES_SHOWN:
            if outcome.figures.get(key) is not None:
                out.print(f"  {key:<26} {outcome.figures[key]}")
        for problem in outcome.problems:
            err.print(f"  problem: {problem}")
    if not outcome.passed:
        raise typer.Exit(1)
