"""`gristops observe render`: a ready Prometheus + Alertmanager + Grafana configuration.

Layout under the output folder:

    prometheus/prometheus.yml               scrapes the gateway slots, node_exporter, itself
    prometheus/rules/gristops.rules.yaml    alert and recording rules
    alertmanager/alertmanager.yml           receivers from gristops.yaml
    alertmanager/secrets/*                  their secrets (mode 600)
    grafana/provisioning/datasources/gristops.yaml
    grafana/provisioning/dashboards/gristops.yaml
    grafana/dashboards/*.json
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gristops.config import Config
from gristops.observe.alertmanager import SECRETS_DIR, alertmanager_config
from gristops.observe.dashboards import (
    dashboard_names,
    dashboard_provisioning,
    datasource_provisioning,
    render_dashboard,
)
from gristops.observe.rules import RULES_FILE, render_rules
from gristops.runtime.process import run

GATEWAY_JOB = "gristops-gateway"


@dataclass(frozen=True)
class StackPaths:
    """Where each rendered file lives under the output folder."""

    root: Path

    @property
    def prometheus(self) -> Path:
        return self.root / "prometheus" / "prometheus.yml"

    @property
    def rules(self) -> Path:
        return self.root / "prometheus" / "rules" / RULES_FILE

    @property
    def alertmanager(self) -> Path:
        return self.root / "alertmanager" / "alertmanager.yml"

    @property
    def dashboards(self) -> Path:
        return self.root / "grafana" / "dashboards"

    @property
    def provisioning(self) -> Path:
        return self.root / "grafana" / "provisioning"


def gateway_targets(config: Config) -> list[str]:
    """The configured gateway slots, or the one `gristops serve` listens on."""
    targets = config.observe.prometheus.gateway_targets
    if targets:
        return list(targets)
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - reading, not binding
    return [f"[{host}]:{config.server.port}" if ":" in host else f"{host}:{config.server.port}"]


def prometheus_config(config: Config) -> dict[str, Any]:
    settings = config.observe.prometheus

    def job(name: str, targets: list[str]) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": targets}]}

    jobs = [job(GATEWAY_JOB, gateway_targets(config))]
    if settings.node_exporter is not None:
        jobs.append(job("node", [settings.node_exporter]))
    jobs.append(job("prometheus", [settings.listen]))
    jobs.append(job("alertmanager", [settings.alertmanager]))
    return {
        "global": {
            "scrape_interval": f"{settings.scrape_interval}s",
            # Prometheus refuses a timeout longer than the interval.
            "scrape_timeout": f"{min(settings.scrape_interval, 10)}s",
            "evaluation_interval": f"{settings.evaluation_interval}s",
        },
        "rule_files": [f"rules/{RULES_FILE}"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [settings.alertmanager]}]}]},
        "scrape_configs": jobs,
    }


def _write(path: Path, text: str, private: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as sink:
        sink.write(text)
    if private:
        path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
    return path


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=1000)


def write_stack(config: Config, out: Path, alert_for: str | None = None) -> list[Path]:
    """Render every file under `out`; returns the paths written.

    `alert_for` replaces every alert's `for:` duration (for testing alert delivery).
    """
    paths = StackPaths(out)
    written = [
        _write(paths.prometheus, _yaml(prometheus_config(config))),
        _write(paths.rules, render_rules(config, alert_for)),
    ]
    am = alertmanager_config(config.observe.receivers)
    # The webhook URL may carry a token of its own: the file is private too.
    written.append(_write(paths.alertmanager, _yaml(am.config), private=True))
    for name, secret in am.secrets.items():
        written.append(_write(paths.alertmanager.parent / SECRETS_DIR / name, secret, True))
    for name in dashboard_names():
        text = json.dumps(render_dashboard(config, name), indent=2) + "\n"
        written.append(_write(paths.dashboards / name, text))
    provisioning = paths.provisioning
    written.append(
        _write(
            provisioning / "datasources" / "gristops.yaml", _yaml(datasource_provisioning(config))
        )
    )
    written.append(
        _write(
            provisioning / "dashboards" / "gristops.yaml",
            _yaml(dashboard_provisioning(paths.dashboards)),
        )
    )
    return written


def check_stack(out: Path) -> list[str]:
    """Run `promtool check config` and `amtool check-config` on a rendered folder.

    Raises ExternalProgramError with the tool's own output when a check fails;
    returns one summary line per check that passed.
    """
    paths = StackPaths(out)
    checks = [
        ["promtool", "check", "config", str(paths.prometheus)],
        ["amtool", "check-config", str(paths.alertmanager)],
    ]
    passed = []
    for args in checks:
        run(args, timeout=30)
        passed.append(f"{args[0]}: {Path(args[-1]).relative_to(out)} is valid")
    return passed
