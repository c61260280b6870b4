"""Alert rules: the packaged rule file with the SLO, RPO and thresholds of gristops.yaml filled in.

The rule file is package data (`observe/rules/gristops.rules.yaml`) next to
its promtool tests, so the rules a user runs are the rules that were tested.
Placeholders are `%{name}`; Prometheus's own `{{ $value }}` templates pass through.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import yaml

from gristops.config import Config

RULES_FILE = "gristops.rules.yaml"
# promtool tests of the rule file; the day-scale alerts evaluate on a coarser step.
TEST_FILES = ("gristops.rules.test.yaml", "gristops.rules.days.test.yaml")
_PLACEHOLDER = re.compile(r"%\{([a-z0-9_]+)\}")
# Burn rates of the two pages of the multi-window alert (Google SRE workbook, ch. 5).
FAST_BURN = 14.4
SLOW_BURN = 6.0


def packaged(name: str) -> str:
    """The text of a file shipped in gristops/observe/rules/."""
    return resources.files("gristops.observe").joinpath("rules", name).read_text(encoding="utf-8")


def _number(value: float) -> str:
    # Six significant digits: 14.4 * 0.005 shows as 0.072, not 0.07200000000000001.
    return f"{value:.6g}"


def threshold_values(config: Config) -> dict[str, str]:
    """What each placeholder of the rule file and the dashboards becomes for this config."""
    observe = config.observe
    limits = observe.thresholds
    budget = 1 - observe.slo_percent / 100
    return {
        "slo_percent": _number(observe.slo_percent),
        "slo_ratio": _number(observe.slo_percent / 100),
        "error_budget_percent": _number(100 - observe.slo_percent),
        "error_budget_ratio": _number(budget),
        "fast_burn_ratio": _number(FAST_BURN * budget),
        "slow_burn_ratio": _number(SLOW_BURN * budget),
        "rpo_seconds": str(observe.rpo_seconds),
        "p95_latency_seconds": _number(limits.p95_latency_seconds),
        "replication_lag_seconds": str(limits.replication_lag_seconds),
        "drill_max_age_days": _number(limits.drill_max_age_days),
        "drill_max_age_seconds": str(round(limits.drill_max_age_days * 86400)),
        "certificate_remaining_fraction": _number(limits.certificate_remaining_fraction),
        "disk_used_percent": _number(limits.disk_used_percent),
    }


def fill(template: str, values: dict[str, str]) -> str:
    """`template` with every `%{name}` replaced; an unknown name is a KeyError naming it."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def render_rules(config: Config, alert_for: str | None = None) -> str:
    """The rule file for `config`. `alert_for` replaces every alert's `for:` (to test delivery fast)."""
    text = fill(packaged(RULES_FILE), threshold_values(config))
    if alert_for is None:
        return text
    document: dict[str, Any] = yaml.safe_load(text)
    for group in document["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = alert_for
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def alert_names(rules_text: str) -> list[str]:
    """The alert names defined in a rule file, in order."""
    document: dict[str, Any] = yaml.safe_load(rules_text)
    return [r["alert"] for g in document["groups"] for r in g["rules"] if "alert" in r]
