"""`gristops observe render`: files that promtool and amtool accept, secrets kept out of them."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.config import parse_config
from gristops.errors import ConfigError
from gristops.observe.dashboards import DATASOURCE_UID, dashboard_names, render_dashboard
from gristops.observe.stack import StackPaths, check_stack, write_stack

BASE = "grist: {document_id: Shop}\n"
RECEIVERS = """\
observe:
  receivers:
    email:
      to: [ops@shop.test, owner@shop.test]
      from: alerts@shop.test
      smarthost: smtp.shop.test:587
      username: alerts
      password: ${SMTP_PASSWORD}
    webhook:
      url: https://hooks.shop.test/alerts
      bearer_token: ${WEBHOOK_TOKEN}
    ntfy:
      topic_url: https://ntfy.sh/shop-alerts
      token: ${NTFY_TOKEN}
"""
SECRETS = {
    "SMTP_PASSWORD": "smtp-s3cret",
    "WEBHOOK_TOKEN": "hook-s3cret",
    "NTFY_TOKEN": "ntfy-s3cret",
}


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_default_render_passes_promtool_and_amtool(tmp_path: Path) -> None:
    write_stack(parse_config(BASE), tmp_path)
    assert len(check_stack(tmp_path)) == 2
    prometheus = load_yaml(StackPaths(tmp_path).prometheus)
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert jobs["gristops-gateway"] == ["127.0.0.1:8484"]  # server.port when no slots are listed
    assert jobs["node"] == ["127.0.0.1:9100"]
    assert jobs["prometheus"] == ["127.0.0.1:9090"]
    assert (StackPaths(tmp_path).rules).is_file()


def test_blue_and_green_slots_are_both_scraped(tmp_path: Path) -> None:
    config = parse_config(
        BASE + "observe: {prometheus: {gateway_targets: ['127.0.0.1:8001', '127.0.0.1:8002'],"
        " node_exporter: null, scrape_interval: 5}}\n"
    )
    write_stack(config, tmp_path)
    check_stack(tmp_path)
    prometheus = load_yaml(StackPaths(tmp_path).prometheus)
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert jobs["gristops-gateway"] == ["127.0.0.1:8001", "127.0.0.1:8002"]
    assert "node" not in jobs
    assert prometheus["global"]["scrape_timeout"] == "5s"


def test_receivers_are_rendered_with_secrets_in_private_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    write_stack(parse_config(BASE + RECEIVERS), tmp_path)
    check_stack(tmp_path)
    path = StackPaths(tmp_path).alertmanager
    text = path.read_text()
    assert not any(secret in text for secret in SECRETS.values())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secrets = path.parent / "secrets"
    assert {p.name: p.read_text() for p in secrets.iterdir()} == {
        "smtp_password": "smtp-s3cret",
        "webhook_token": "hook-s3cret",
        "ntfy_token": "ntfy-s3cret",
    }
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in secrets.iterdir())
    config = load_yaml(path)
    assert config["global"]["smtp_auth_password_file"] == "secrets/smtp_password"
    receiver = config["receivers"][0]
    assert receiver["email_configs"][0]["to"] == "ops@shop.test, owner@shop.test"
    hook, ntfy = receiver["webhook_configs"]
    assert hook["url"] == "https://hooks.shop.test/alerts"
    assert hook["http_config"]["authorization"]["credentials_file"] == "secrets/webhook_token"
    url = urlsplit(ntfy["url"])
    assert (url.netloc, url.path) == ("ntfy.sh", "/shop-alerts")
    query = parse_qs(url.query)
    assert query["tpl"] == ["yes"] and "{{.commonLabels.alertname}}" in query["t"][0]


def test_a_bad_receiver_is_a_config_error_naming_the_key() -> None:
    bad = BASE + "observe: {receivers: {ntfy: {topic_url: 'ntfy.sh/x'}}}\n"
    with pytest.raises(ConfigError, match=r"observe\.receivers\.ntfy\.topic_url"):
        parse_config(bad)
    with pytest.raises(ConfigError, match="is not host:port"):
        parse_config(BASE + "observe: {prometheus: {gateway_targets: [localhost]}}\n")


def test_dashboards_use_the_provisioned_datasource_and_the_configured_thresholds() -> None:
    config = parse_config(BASE + "observe: {rpo_seconds: 7200}\n")
    names = dashboard_names()
    assert names == [
        "gristops-backups-tls.json",
        "gristops-gateway.json",
        "gristops-host.json",
        "gristops-overview.json",
    ]
    for name in names:
        dashboard = render_dashboard(config, name)
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == DATASOURCE_UID
            assert panel["targets"], panel["title"]
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            assert all(s["value"] is None or isinstance(s["value"], int | float) for s in steps)
    overview = render_dashboard(config, "gristops-overview.json")
    backup_age = next(p for p in overview["panels"] if p["title"] == "Last backup age")
    assert backup_age["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 7200


def test_cli_render_writes_everything_and_reports_json(tmp_path: Path) -> None:
    config = tmp_path / "gristops.yaml"
    config.write_text(BASE)
    out = tmp_path / "stack"
    result = CliRunner().invoke(
        app, ["observe", "render", "-c", str(config), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["checks"]) == 2
    written = {Path(p).relative_to(out).as_posix() for p in report["files"]}
    assert {
        "prometheus/prometheus.yml",
        "prometheus/rules/gristops.rules.yaml",
        "alertmanager/alertmanager.yml",
        "grafana/provisioning/datasources/gristops.yaml",
        "grafana/provisioning/dashboards/gristops.yaml",
        "grafana/dashboards/gristops-overview.json",
    } <= written
    provider = load_yaml(out / "grafana/provisioning/dashboards/gristops.yaml")["providers"][0]
    assert Path(provider["options"]["path"]) == (out / "grafana/dashboards").resolve()
