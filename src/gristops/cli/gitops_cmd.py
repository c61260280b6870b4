"""`gristops gitops run | sync | status | history`: pull-based deploys from a Git repository."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from gristops.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    emit_json,
    load,
    local_time,
    out,
    print_step,
    stop_on_signals,
)
from gristops.config import Config
from gristops.errors import CommitRefused, DeployFailed, ReconcileFailed
from gristops.gitops.metrics import metric_families
from gristops.gitops.reconcile import PassResult, Reconciler
from gristops.gitops.records import GitopsRun, GitopsRuns
from gristops.observe.logging import configure_logging, configure_process_logging
from gristops.state.db import StateDB

app = typer.Typer(
    help="Pull-based deploys: a Git repository holds the desired config and release.",
    no_args_is_help=True,
)


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _summary(result: PassResult) -> str:
    line = f"{result.outcome}: {_short(result.commit or result.head)}"
    if result.changes:
        line += f" ({', '.join(result.changes)})"
    if result.head_bad and result.head != result.commit:
        line += f"; head {_short(result.head)} is marked bad, holding {_short(result.commit)}"
    return line + (f": {result.reason}" if result.reason else "")


def _raise_for(result: PassResult) -> None:
    """The pass's outcome as the command's exit: 0 when the desired state is live."""
    reason, hint = result.reason or result.outcome, result.hint or ""
    if result.outcome in ("failed", "drift"):
        raise ReconcileFailed(reason, hint)
    if result.outcome in ("refused", "skipped"):
        raise CommitRefused(reason, hint)
    if result.outcome == "rolled_back":
        raise DeployFailed(reason, hint)


def _reconciler(cfg: Config, quiet: bool) -> Reconciler:
    state = StateDB(cfg.state_location)
    if quiet:
        return Reconciler(cfg, state)
    return Reconciler(cfg, state, on_step=print_step)


@app.command("sync")
def sync(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """One pass now: fetch, verify, render, diff, apply through the deploy gates."""
    cfg = load(config)
    configure_logging(cfg.log.level, cfg.log.json_lines)
    result = _reconciler(cfg, as_json).sync("sync")
    if as_json:
        emit_json(dataclasses.asdict(result))
    else:
        if result.diff:
            out.print(result.diff.rstrip("\n"), markup=False)
        if result.outcome not in ("failed", "refused", "skipped", "rolled_back", "drift"):
            out.print(_summary(result), markup=False)
    _raise_for(result)


@app.command("run")
def run(
    config: ConfigOption = DEFAULT_CONFIG,
    interval: Annotated[
        float | None,
        typer.Option("--interval", min=1, help="Seconds between passes (gitops.interval)."),
    ] = None,
) -> None:
    """Pass after pass until SIGTERM or Ctrl-C (the agent can run `gitops sync` instead)."""
    cfg = load(config)
    configure_process_logging(cfg, "gitops")
    stop = stop_on_signals()
    every = interval or cfg.gitops.interval
    out.print(f"following {cfg.gitops.repo} ({cfg.gitops.branch}) every {every:g} s", markup=False)
    _reconciler(cfg, quiet=True).run(stop, every)


def _status(cfg: Config, runs: GitopsRuns) -> dict[str, Any]:
    last = runs.last()
    applied = runs.applied()
    gauges = {
        f.name.removeprefix("gristops_gitops_"): f.samples[0].value
        for f in metric_families(cfg, runs.state)
        if f.type == "gauge" and f.samples and not f.samples[0].labels
    }
    return {
        "repo": cfg.gitops.repo,
        "branch": cfg.gitops.branch,
        "environment": cfg.gitops.environment,
        "applied_commit": applied.commit_sha if applied else None,
        "applied_at": applied.finished_at if applied else None,
        "head": last.head_sha if last else None,
        "head_bad": bool(gauges.get("bad_commit")),
        "last": dataclasses.asdict(last) if last else None,
        "drift": last.diff if last and last.outcome == "drift" else "",
    }


@app.command("status")
def status(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """The applied commit, the last pass's result and any drift it found."""
    cfg = load(config)
    data = _status(cfg, GitopsRuns(StateDB(cfg.state_location)))
    if as_json:
        emit_json(data)
        return
    env = data["environment"] or "base"
    out.print(f"repository: {data['repo']} ({data['branch']}, {env})", markup=False)
    out.print(
        f"applied: {_short(data['applied_commit'])} at {local_time(data['applied_at'])}",
        markup=False,
    )
    last = data["last"]
    if last is None:
        out.print("last pass: none yet (run `gristops gitops sync`)")
        return
    why = f": {last['reason']}" if last["reason"] else ""
    out.print(
        f"last pass: {last['outcome']} at {local_time(last['finished_at'])}{why}", markup=False
    )
    if data["head_bad"]:
        out.print(
            f"head {_short(data['head'])} is marked bad: not retried until a newer commit",
            markup=False,
        )
    if data["drift"]:
        out.print("drift:", markup=False)
        out.print(data["drift"].rstrip("\n"), markup=False)


@app.command("history")
def history(
    config: ConfigOption = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest passes to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Reconcile passes, newest first: commit, outcome, what differed and why."""
    cfg = load(config)
    entries: list[GitopsRun] = GitopsRuns(StateDB(cfg.state_location)).history(limit)
    if as_json:
        emit_json([dataclasses.asdict(e) for e in entries])
        return
    for e in entries:
        out.print(
            f"{local_time(e.started_at)}  {e.trigger:<4} {_short(e.commit_sha):<12} {e.outcome:<11}"
            f" {e.changes or '-':<15}"
            + ("  BAD" if e.bad else "")
            + (f"  ({e.reason})" if e.reason else ""),
            markup=False,
        )
