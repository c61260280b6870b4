"""Grafana dashboards (package data) and the provisioning files that load them.

The dashboards use the thresholds of gristops.yaml: a JSON string that is
exactly `"%{name}"` becomes that number, other `%{name}` are filled as text.
Every panel queries the datasource provisioned with uid `gristops-prometheus`.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from gristops.config import Config
from gristops.observe.rules import fill, threshold_values

DATASOURCE_UID = "gristops-prometheus"
_WHOLE = re.compile(r'"%\{([a-z0-9_]+)\}"')


def dashboard_names() -> list[str]:
    """File names of the packaged dashboards."""
    folder = resources.files("gristops.observe").joinpath("dashboards")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def render_dashboard(config: Config, name: str) -> dict[str, Any]:
    """One packaged dashboard with this config's thresholds."""
    text = resources.files("gristops.observe").joinpath("dashboards", name).read_text("utf-8")
    values = threshold_values(config)
    text = _WHOLE.sub(lambda m: values[m.group(1)], text)
    dashboard: dict[str, Any] = json.loads(fill(text, values))
    return dashboard


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def datasource_provisioning(config: Config) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (gristops)",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://{config.observe.prometheus.listen}",
                "isDefault": True,
                "jsonData": {"timeInterval": f"{config.observe.prometheus.scrape_interval}s"},
            }
        ],
    }


def dashboard_provisioning(dashboards_dir: Path) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "gristops",
                "folder": "gristops",
                "type": "file",
                "disableDeletion": True,
                "options": {"path": str(dashboards_dir.resolve())},
            }
        ],
    }
