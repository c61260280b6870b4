"""systemd units for gristops: the gateway, the agent or one timer per job, and the edge.

Every unit runs as an unprivileged user with the filesystem read-only except
data_dir (ProtectSystem=strict + ReadWritePaths), no new privileges, no
capabilities (unless the gateway binds a port below 1024), and only the
system calls and address families a network service needs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gristops.config import Config
from gristops.config.observe import JobSpec
from gristops.edge.layout import EdgePaths

Mode = Literal["agent", "timers"]
PREFIX = "gristops"
_WEEKDAY = {
    "mon": "Mon",
    "tue": "Tue",
    "wed": "Wed",
    "thu": "Thu",
    "fri": "Fri",
    "sat": "Sat",
    "sun": "Sun",
}


@dataclass(frozen=True)
class UnitOptions:
    """What the units need to know about the machine they run on."""

    executable: Path  # the gristops script, absolute
    config_path: Path  # absolute
    user: str = "gristops"
    group: str | None = None
    writable: tuple[Path, ...] = field(default=())  # beyond data_dir
    # Secrets for ${ENV} keys: systemd reads it as root before dropping privileges.
    environment_file: Path | None = None


def _hardening(config: Config, opts: UnitOptions, bind_low_port: bool = False) -> list[str]:
    writable = [config.data_dir.resolve(), *opts.writable]
    paths = [*writable, opts.config_path, opts.executable]
    under_home = any(str(p).startswith(("/home/", "/root/", "/run/user/")) for p in paths)
    # A private /tmp would hide a data_dir or config kept under /tmp.
    under_tmp = any(str(p).startswith(("/tmp/", "/var/tmp/")) for p in paths)  # noqa: S108
    caps = "CAP_NET_BIND_SERVICE" if bind_low_port else ""
    lines = [
        f"User={opts.user}",
        *([f"Group={opts.group}"] if opts.group else []),
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        # Paths under /home must stay visible (read-only) for ReadWritePaths to apply.
        f"ProtectHome={'read-only' if under_home else 'yes'}",
        f"ReadWritePaths={' '.join(_quote(p) for p in writable)}",
        f"PrivateTmp={'no' if under_tmp else 'yes'}",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "RestrictNamespaces=yes",
        "LockPersonality=yes",
        "RemoveIPC=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        f"CapabilityBoundingSet={caps}",
        f"AmbientCapabilities={caps}",
    ]
    return lines


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _exec(opts: UnitOptions, *args: str, key: str = "ExecStart") -> str:
    command = [str(opts.executable), *args, "--config", str(opts.config_path)]
    return f"{key}=" + " ".join(shlex.quote(part) for part in command)


def _environment(opts: UnitOptions) -> list[str]:
    lines = [f"Environment=GRISTOPS_CONFIG={_quote(opts.config_path)}"]
    if opts.environment_file is not None:
        lines.append(f"EnvironmentFile={_quote(opts.environment_file)}")
    return [*lines, f"WorkingDirectory={_quote(opts.config_path.parent)}"]


def _unit(description: str, service: list[str], install: str | None = None) -> str:
    lines = [
        "[Unit]",
        f"Description={description}",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        *service,
    ]
    if install:
        lines += ["", "[Install]", f"WantedBy={install}"]
    return "\n".join(lines) + "\n"


def gateway_unit(config: Config, opts: UnitOptions) -> str:
    service = [
        "Type=exec",
        *_environment(opts),
        _exec(opts, "serve"),
        "Restart=on-failure",
        "RestartSec=2",
        f"TimeoutStopSec={config.server.graceful_timeout + 10}",
        *_hardening(config, opts, bind_low_port=config.server.port < 1024),
    ]
    return _unit("gristops gateway", service, "multi-user.target")


def agent_unit(config: Config, opts: UnitOptions) -> str:
    service = [
        "Type=exec",
        *_environment(opts),
        _exec(opts, "agent"),
        "Restart=on-failure",
        "RestartSec=5",
        # Running jobs get 30 s to stop after SIGTERM, then the agent exits.
        "TimeoutStopSec=60",
        *_hardening(config, opts),
    ]
    return _unit("gristops agent (scheduled operations)", service, "multi-user.target")


def edge_unit(config: Config, opts: UnitOptions) -> str:
    """nginx in front of the gateway, started by `gristops edge start` (it daemonizes)."""
    edge = config.edge
    service = [
        "Type=forking",
        f"PIDFile={_quote(EdgePaths.of(config).pid)}",
        *_environment(opts),
        _exec(opts, "edge", "start"),
        _exec(opts, "edge", "reload", key="ExecReload"),
        _exec(opts, "edge", "stop", key="ExecStop"),
        "Restart=on-failure",
        "RestartSec=5",
        *_hardening(config, opts, bind_low_port=min(edge.http_port, edge.https_port) < 1024),
    ]
    return _unit(
        "gristops edge (nginx: TLS, rate limits, static app)", service, "multi-user.target"
    )


def job_units(config: Config, opts: UnitOptions, job: JobSpec) -> tuple[str, str]:
    """The oneshot service and the timer of one job (for those who prefer systemd timers)."""
    service = [
        "Type=oneshot",
        *_environment(opts),
        _exec(opts, "agent", "--job", job.name),
        f"TimeoutStartSec={job.timeout + 60}",
        *_hardening(config, opts),
    ]
    interval = job.interval_seconds()
    if interval is not None:
        schedule = ["OnBootSec=1min", f"OnUnitActiveSec={interval}s"]
    else:
        days = ",".join(_WEEKDAY[d] for d in job.days)
        schedule = [f"OnCalendar={days + ' ' if days else ''}*-*-* {t}:00" for t in job.at]
        schedule.append("Persistent=true")
    timer = [
        "[Unit]",
        f"Description=gristops job {job.name}: {' '.join(job.command)}",
        "",
        "[Timer]",
        *schedule,
        f"Unit={PREFIX}-job-{job.name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return (
        _unit(f"gristops job {job.name}: {' '.join(job.command)}", service),
        "\n".join(timer) + "\n",
    )


def render_units(
    config: Config, opts: UnitOptions, mode: Mode, edge: bool = False
) -> dict[str, str]:
    """File name -> content of every unit for `mode` (and the edge's when asked)."""
    units = {f"{PREFIX}-gateway.service": gateway_unit(config, opts)}
    if edge:
        units[f"{PREFIX}-edge.service"] = edge_unit(config, opts)
    if mode == "agent":
        units[f"{PREFIX}-agent.service"] = agent_unit(config, opts)
        return units
    for job in config.observe.agent.jobs:
        service, timer = job_units(config, opts, job)
        units[f"{PREFIX}-job-{job.name}.service"] = service
        units[f"{PREFIX}-job-{job.name}.timer"] = timer
    return units
