"""The alert rules, run by the real promtool: every alert fires when it should and only then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gristops.config import parse_config
from gristops.errors import ExternalProgramError
from gristops.observe.rules import RULES_FILE, TEST_FILES, alert_names, packaged, render_rules
from gristops.runtime.process import run

BASE = "grist: {document_id: Shop}\n"


def promtool_test(folder: Path, rules: str, tests: dict[str, str]) -> None:
    (folder / RULES_FILE).write_text(rules)
    for name, text in tests.items():
        (folder / name).write_text(text)
    run(["promtool", "test", "rules", *(str(folder / name) for name in tests)], timeout=60)


def test_the_packaged_rule_tests_pass_on_the_default_rules(tmp_path: Path) -> None:
    packaged_tests = {name: packaged(name) for name in TEST_FILES}
    promtool_test(tmp_path, render_rules(parse_config(BASE)), packaged_tests)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests: list[dict[str, Any]] = [
        test for name in TEST_FILES for test in yaml.safe_load(packaged(name))["tests"]
    ]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for name in alert_names(render_rules(parse_config(BASE))):
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} has no firing case"
        assert any(not case["exp_alerts"] for case in mine), f"{name} has no quiet case"


def test_a_broken_expectation_fails_promtool(tmp_path: Path) -> None:
    """The harness would notice a wrong rule: a test that expects a quiet alert to fire fails."""
    tests = """\
rule_files: [gristops.rules.yaml]
tests:
  - interval: 1m
    input_series:
      - series: gristops_replication_lag_seconds{db="Shop"}
        values: 1x10
    alert_rule_test:
      - eval_time: 8m
        alertname: ReplicationLagHigh
        exp_alerts: [{exp_labels: {db: Shop, severity: page}}]
"""
    with pytest.raises(ExternalProgramError, match="promtool failed"):
        promtool_test(tmp_path, render_rules(parse_config(BASE)), {"broken.test.yaml": tests})


def test_the_configured_rpo_and_slo_are_what_the_alerts_use(tmp_path: Path) -> None:
    config = parse_config(BASE + "observe: {rpo_seconds: 3600, slo_percent: 99.9}\n")
    tests = """\
rule_files: [gristops.rules.yaml]
tests:
  - interval: 1m
    input_series:
      # Backed up at time 0; the RPO is now one hour.
      - series: gristops_backup_last_success_timestamp_seconds{target="local"}
        values: 0x200
      # 1% errors: within a 99.5% SLO for the slow burn, 10x over a 99.9% one.
      - series: gristops_http_requests_total{status="200"}
        values: 0+99x200
      - series: gristops_http_requests_total{status="500"}
        values: 0+1x200
    alert_rule_test:
      - eval_time: 50m
        alertname: BackupTooOld
        exp_alerts: []
      - eval_time: 70m
        alertname: BackupTooOld
        exp_alerts:
          - exp_labels: {target: local, severity: page}
            exp_annotations:
              summary: No successful backup to local within the RPO
              description: The last one is 1h 10m 0s old; the RPO is 3600 s.
      - eval_time: 70m
        alertname: ErrorBudgetBurnSlow
        exp_alerts:
          - exp_labels: {severity: page}
            exp_annotations:
              summary: Gateway errors are burning the 99.9% SLO 6x too fast
              description: 1% of requests failed over the last 6 hours; the SLO allows 0.1% (a 30-day budget lasts 5 days at 6x).
"""
    promtool_test(tmp_path, render_rules(config), {"rpo.test.yaml": tests})


def test_alert_for_override_shortens_every_alert_and_keeps_the_rules_valid(
    tmp_path: Path,
) -> None:
    rules = render_rules(parse_config(BASE), alert_for="5s")
    groups = yaml.safe_load(rules)["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert alerts and all(r["for"] == "5s" for r in alerts)
    (tmp_path / RULES_FILE).write_text(rules)
    run(["promtool", "check", "rules", str(tmp_path / RULES_FILE)], timeout=30)


def test_production_rules_wait_before_paging() -> None:
    groups = yaml.safe_load(render_rules(parse_config(BASE)))["groups"]
    waits = {r["alert"]: r.get("for") for g in groups for r in g["rules"] if "alert" in r}
    assert waits["StoreUnreachable"] == "1m"
    assert waits["GatewayDown"] == "1m"
    assert waits["GatewayLatencyHigh"] == "10m"
