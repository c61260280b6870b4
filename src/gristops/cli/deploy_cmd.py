"""`gristops deploy RELEASE | rollback | status | history | stop`: blue-green deploys."""

from __future__ import annotations

import getpass
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gristops.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    emit_json,
    load,
    local_time,
    out,
    print_step,
)
from gristops.config import Config
from gristops.deploy import slots
from gristops.deploy.deployer import Deployer, DeployResult
from gristops.deploy.handover import accepting
from gristops.deploy.records import SLOTS, DeployRecords, Slot
from gristops.deploy.release import load_release
from gristops.deploy.slots import SlotPlace
from gristops.deploy.supervisor import supervise
from gristops.edge.nginx import Nginx
from gristops.errors import DeployFailed
from gristops.runtime import pids
from gristops.state.db import StateDB


class _ReleaseByDefault(TyperGroup):
    """`gristops deploy RELEASE` means `gristops deploy release RELEASE`."""

    # Typed loosely: typer's own click types are private to it.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["release", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_ReleaseByDefault,
    help="Blue-green deploys: gristops deploy RELEASE, rollback, status, history.",
    no_args_is_help=True,
)
ByOption = Annotated[str | None, typer.Option("--by", help="Who deploys (default: the user).")]


def _actor(by: str | None) -> str:
    return by or getpass.getuser()


def _finish(result: DeployResult, as_json: bool) -> None:
    if as_json:
        emit_json(asdict(result))
    elif result.outcome in ("success", "unchanged"):
        switch = (
            f" (switched after {result.seconds_to_switch:.1f} s"
            + (f", in {result.switch_seconds * 1000:.0f} ms" if result.switch_seconds else "")
            + ")"
            if result.seconds_to_switch
            else ""
        )
        out.print(f"{result.outcome}: {result.release_id} on {result.slot}{switch}")
    if result.outcome in ("rolled_back", "failed"):
        raise DeployFailed(
            f"deploy of {result.release_id} {result.outcome.replace('_', ' ')}: {result.reason}",
            "the previous release keeps serving; `gristops deploy history` has the details",
        )


def _deployer(cfg: Config, as_json: bool) -> Deployer:
    state = StateDB(cfg.state_location)
    if as_json:
        return Deployer(cfg, state)
    return Deployer(cfg, state, on_step=print_step)


@app.command("release")
def release(
    path: Annotated[Path, typer.Argument(help="A gristops wheel, or a release directory.")],
    config: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option("--force", help="Deploy even if unchanged.")] = False,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Install RELEASE into the idle slot, gate it, switch, watch; switch back on failure."""
    cfg = load(config)
    result = _deployer(cfg, as_json).deploy(load_release(path), actor=_actor(by), force=force)
    _finish(result, as_json)


@app.command("rollback")
def rollback(
    config: ConfigOption = DEFAULT_CONFIG, by: ByOption = None, as_json: JsonOption = False
) -> None:
    """Give traffic back to the previous release at once (it is still installed, often warm)."""
    cfg = load(config)
    _finish(_deployer(cfg, as_json).rollback(actor=_actor(by)), as_json)


def _slot_status(cfg: Config, records: DeployRecords) -> list[dict[str, Any]]:
    installed = records.slots()
    rows = []
    for name in SLOTS:
        place = SlotPlace.of(cfg, name)
        record = installed.get(name)
        restarts = place.restarts.read_text().strip() if place.restarts.exists() else "0"
        rows.append(
            {
                "slot": name,
                "port": place.port,
                "release": record.release_id if record else None,
                "active": bool(record and record.active),
                "running": slots.running(place),
                "accepting": accepting(place),
                "pid": pids.read_pid(place.serve_pid),
                "restarts": int(restarts or 0),
            }
        )
    return rows


@app.command("status")
def status(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Which slot serves which release, and whether each runs."""
    cfg = load(config)
    rows = _slot_status(cfg, DeployRecords(StateDB(cfg.state_location)))
    edge = Nginx(cfg).running()
    if as_json:
        emit_json({"slots": rows, "edge_running": edge})
        return
    for row in rows:
        mark = "→" if row["active"] else " "
        state = f"running pid {row['pid']}" if row["running"] else "stopped"
        if row["accepting"]:
            state += f", takes traffic on :{cfg.deploy.port}"
        out.print(
            f"{mark} {row['slot']:<5} :{row['port']}  {row['release'] or '(empty)'}  {state}"
            f"  restarts {row['restarts']}",
            markup=False,
        )
    out.print(f"edge nginx: {'running' if edge else 'stopped'}")


@app.command("history")
def history(
    config: ConfigOption = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest entries to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Deploys and rollbacks, newest first: what, when, by whom, outcome and durations."""
    cfg = load(config)
    entries = DeployRecords(StateDB(cfg.state_location)).history(limit=limit)
    if as_json:
        emit_json([asdict(e) for e in entries])
        return
    for e in entries:
        took = f"{e.finished_at - e.started_at:.1f} s" if e.finished_at else "running"
        out.print(
            f"{local_time(e.started_at)}  {e.kind:<8} {e.release_id:<24} {e.slot:<5} by {e.actor:<10} "
            f"{e.outcome or '-':<11} {took}" + (f"  ({e.reason})" if e.reason else ""),
            markup=False,
        )


@app.command("stop")
def stop(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Stop both slots (each drains its in-flight requests first); the edge is left alone."""
    cfg = load(config)
    for name in SLOTS:
        slots.stop(cfg, SlotPlace.of(cfg, name))
    out.print("slots stopped")


@app.command("slot-run", hidden=True)
def slot_run(
    slot: Annotated[str, typer.Argument(help="blue or green")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Supervise one slot's gateway (started by deploy; restarts it if it dies)."""
    if slot not in SLOTS:
        raise typer.BadParameter("must be blue or green")
    name: Slot = "blue" if slot == "blue" else "green"
    cfg = load(config)
    supervise(cfg, SlotPlace.of(cfg, name))
