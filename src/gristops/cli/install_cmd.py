"""`gristops install systemd`: write hardened systemd units for the gateway, agent and edge.

The units run as an unprivileged user that must own data_dir. As root the
command creates that system user when it is missing and hands data_dir to it;
otherwise it says which commands to run.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from gristops.agent.systemd import Mode, UnitOptions, render_units
from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, load, out
from gristops.config import Config
from gristops.errors import GristopsError
from gristops.runtime.process import run

app = typer.Typer(help="Install gristops into the system (systemd units).", no_args_is_help=True)


def _executable() -> Path:
    found = shutil.which("gristops") or shutil.which(
        "gristops", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise GristopsError(
            "cannot find the gristops executable", hint="pass --exec /path/to/gristops"
        )
    return Path(found).resolve()


@app.command("systemd")
def systemd(
    config: ConfigOption = DEFAULT_CONFIG,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the units to.")] = Path(
        "/etc/systemd/system"
    ),
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="agent: gateway + agent services; timers: gateway + one timer per job."
        ),
    ] = "agent",
    user: Annotated[str, typer.Option("--user", help="Unix user the units run as.")] = "gristops",
    group: Annotated[str | None, typer.Option("--group", help="Unix group.")] = None,
    executable: Annotated[
        Path | None, typer.Option("--exec", help="Path of the gristops executable.")
    ] = None,
    writable: Annotated[
        list[Path] | None,
        typer.Option("--writable", help="Another path the units may write (repeatable)."),
    ] = None,
    edge: Annotated[
        bool, typer.Option("--edge", help="Also write gristops-edge.service (the nginx edge).")
    ] = False,
    environment_file: Annotated[
        Path | None,
        typer.Option(
            "--environment-file",
            help="File of NAME=value lines for ${ENV} secrets, read by systemd as root.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write gristops-gateway.service and gristops-agent.service (or per-job timers)."""
    if mode not in ("agent", "timers"):
        raise GristopsError(f"unknown --mode {mode!r}", hint="use --mode agent or --mode timers")
    cfg = load(config)
    opts = UnitOptions(
        executable=(executable or _executable()).resolve(),
        config_path=Path(config).resolve(),
        user=user,
        group=group,
        writable=tuple(p.resolve() for p in writable or ()),
        environment_file=environment_file.resolve() if environment_file else None,
    )
    chosen: Mode = "agent" if mode == "agent" else "timers"
    units = render_units(cfg, opts, chosen, edge=edge)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    enable = sorted(n for n in units if n.endswith((".timer", "agent.service", "edge.service")))
    enable.insert(0, "gristops-gateway.service")
    if as_json:
        said = _service_user(cfg, user, group)
        emit_json(
            {"directory": str(out_dir), "units": sorted(units), "enable": enable, "user": said}
        )
        return
    for name in sorted(units):
        out.print(f"wrote {out_dir / name}")
    for line in _service_user(cfg, user, group):
        out.print(line, markup=False)
    out.print(f"next: systemctl daemon-reload && systemctl enable --now {' '.join(enable)}")


def _service_user(cfg: Config, user: str, group: str | None) -> list[str]:
    """Make `user` exist and own data_dir (as root), or say what to run; what was done."""
    data = cfg.data_dir
    root = os.geteuid() == 0
    said: list[str] = []
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        create = ["useradd", "--system", "--user-group", "--home-dir", str(data)]
        create += ["--no-create-home", "--shell", "/usr/sbin/nologin", user]
        if not root:
            return [
                f"next: sudo {shlex.join(create)}",
                f"next: sudo chown -R {user}: {shlex.quote(str(data))}",
            ]
        run(create)
        account = pwd.getpwnam(user)
        said.append(f"created the system user {user}")
    gid = grp.getgrnam(group).gr_gid if group else account.pw_gid
    if not data.is_dir():
        return [
            *said,
            f"next: `gristops init` (or a restore) makes {data}; then chown it to {user}",
        ]
    wrong = [
        p
        for p in (data, *data.rglob("*"))
        if (p.lstat().st_uid, p.lstat().st_gid) != (account.pw_uid, gid)
    ]
    if not wrong:
        return [*said, f"{data} is owned by {user}"]
    if not root:
        owner = f"{user}:{group}" if group else f"{user}:"
        return [*said, f"next: sudo chown -R {owner} {shlex.quote(str(data))}"]
    for path in wrong:
        os.chown(path, account.pw_uid, gid, follow_symlinks=False)
    return [*said, f"{data} now belongs to {user} ({len(wrong)} files and directories)"]
