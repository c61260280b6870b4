"""`gristops scan` end to end without a URL: exit codes, formats, SARIF against its schema,
the recorded run, its metrics and its status-page summary."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.config import load_config
from gristops.errors import GristopsError
from gristops.gateway.status.data import ops_components
from gristops.gateway.status.ops import ops_data
from gristops.observe.collector import OpsCollector
from gristops.scan import metrics
from gristops.state.db import StateDB

SCHEMA = Path(__file__).parents[2] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A fresh `gristops init` deployment: private files, no remote target, no drill yet."""
    result = CliRunner().invoke(app, ["init", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path / "gristops.yaml"


def scan(config: Path, *args: str) -> tuple[int, str]:
    """Exit code as `gristops` would give it, and stdout."""
    result = CliRunner().invoke(app, ["scan", "-c", str(config), "--skip", "dependencies", *args])
    if isinstance(result.exception, GristopsError):
        return result.exception.exit_code, f"{result.exception.message} {result.exception.hint}"
    return result.exit_code, result.stdout


def test_exit_code_follows_fail_on(config: Path) -> None:
    code, output = scan(config)
    assert code == 0  # two medium findings, below the default --fail-on high
    assert "2 findings: 2 medium" in output
    assert "deployment: NOT RUN (skipped: pass --url" in output
    code, _ = scan(config, "--fail-on", "medium")
    assert code == 1


def test_usage_errors_exit_2(config: Path, tmp_path: Path) -> None:
    assert scan(config, "--fail-on", "severe")[0] == 2
    assert scan(config, "--format", "xml")[0] == 2
    code, output = scan(config, "--skip", "everything")
    assert code == 2 and "no such check" in output
    assert scan(tmp_path / "missing.yaml")[0] == 2
    code, output = scan(config, "--advisories", str(tmp_path / "none.zip"))
    assert code == 2 and "no such file or folder" in output
    assert scan(config, "--url", "ftp://host")[0] == 2


def test_sarif_validates_against_the_official_schema(config: Path, tmp_path: Path) -> None:
    config.write_text(config.read_text() + "auth: {bcrypt_rounds: 10}\n")
    out = tmp_path / "scan.sarif"
    code, _ = scan(config, "--format", "sarif", "--output", str(out))
    assert code == 0
    document = json.loads(out.read_text())
    Draft4Validator(json.loads(SCHEMA.read_text())).validate(document)
    [run] = document["runs"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {
        "config.bcrypt-cost",
        "config.no-backup-target",
        "config.no-recent-drill",
    }
    rules = run["tool"]["driver"]["rules"]
    assert rules[results["config.bcrypt-cost"]["ruleIndex"]]["id"] == "config.bcrypt-cost"
    [location] = results["config.bcrypt-cost"]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == config.resolve().as_uri()
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "auth.bcrypt_rounds"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert {n["message"]["text"].split(":")[0] for n in notes} == {
        "deployment",
        "tls",
        "dependencies",
    }


def test_json_lists_findings_with_fix_and_checks(config: Path) -> None:
    _, output = scan(config, "--format", "json")
    report = json.loads(output)
    assert report["counts"] == {"low": 0, "medium": 2, "high": 0, "critical": 0}
    assert all(f["fix"] and f["evidence"] and f["location"] for f in report["findings"])
    assert [c["name"] for c in report["checks"] if c["ran"]] == ["config", "files"]


def test_the_last_run_feeds_metrics_and_the_status_page(config: Path) -> None:
    cfg = load_config(config)
    state = StateDB(cfg.state_path)
    assert ops_data(cfg, state)["scan"] is None
    config.write_text(config.read_text() + "server: {cors_origins: ['*']}\n")
    scan(config)
    cfg = load_config(config)
    summary = ops_data(cfg, state)["scan"]
    assert summary["counts"]["high"] == 1 and summary["worst"] == "high"
    [component] = [
        c for c in ops_components(cfg, ops_data(cfg, state), 0) if c["name"] == "security scan"
    ]
    assert component["status"] == "failed"
    assert component["detail"].startswith("1 high, 2 medium")
    registry = CollectorRegistry()
    registry.register(OpsCollector(cfg, state, {"scan": metrics.metric_families}, registry))
    text = generate_latest(registry).decode()
    assert 'gristops_scan_findings{severity="high"} 1.0' in text
    assert 'gristops_scan_findings{severity="medium"} 2.0' in text


def test_a_deployment_that_does_not_answer_is_not_clean(config: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{closed.getsockname()[1]}"
    code, output = scan(
        config, "--url", url, "--no-account", "--format", "json", "--fail-on", "medium"
    )
    report = json.loads(output)
    failed = {
        f["location"]: f["evidence"] for f in report["findings"] if f["id"] == "scan.check-failed"
    }
    assert set(failed) == {"gristops.yaml: deployment", "gristops.yaml: tls"}
    assert "/health" in failed["gristops.yaml: deployment"]
    assert not any(c["ran"] for c in report["checks"] if c["name"] in ("deployment", "tls"))
    assert code == 1
