"""The rendered stack on real programs: the gateway, Prometheus and Alertmanager on 127.0.0.1.

`gristops observe render` output (with 1 s scrape and evaluation intervals and
a 1 s `for:`) drives a real Prometheus scraping a real gateway. Every
dashboard query must evaluate; a store fault must fire StoreUnreachable in
Prometheus, reach Alertmanager, and resolve once the store is back.

The gateway runs under uvicorn from `instrumented_app` below: the app the
product builds, plus the ops collector and the store probe registered the way
create_app is to register them (a no-op once create_app does it itself).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gristops.config import parse_config
from gristops.observe.dashboards import dashboard_names, panel_queries, render_dashboard
from gristops.observe.stack import StackPaths, write_stack
from gristops.runtime.process import Service
from tests.gateway_harness import copy_shop, free_port, write_config

pytestmark = pytest.mark.integration

INTERVAL = 1  # seconds: scrape, rule evaluation and the rendered alerts' `for:`
# What Grafana substitutes before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}
# Metrics of areas that have no data on a fresh install without node_exporter.
NO_DATA_YET = ("node_", "gristops_tls_", "gristops_replication_", "gristops_deploy_last")


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(0.1)


def ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Stack:
    root: Path
    gateway: str
    prometheus: str
    alertmanager: str

    def query(self, promql: str) -> dict[str, Any]:
        r = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
        body: dict[str, Any] = r.json()
        assert r.status_code == 200, f"{promql}: {body.get('error')}"
        return body

    def value(self, promql: str) -> float | None:
        result = self.query(promql)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def alert_states(self, name: str) -> set[str]:
        alerts = httpx.get(f"{self.prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return {a["state"] for a in alerts if a["labels"]["alertname"] == name}


def send_traffic(gateway: str) -> None:
    with httpx.Client(base_url=gateway, timeout=30) as client:
        r = client.post("/auth/login", json={"email": "admin@shop.test", "password": "Admin!2024"})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        client.post("/auth/login", json={"email": "admin@shop.test", "password": "wrong"})
        for _ in range(5):
            assert client.get("/api/docs/Shop/tables", headers=auth).status_code == 200
            r = client.get("/api/docs/Shop/tables/Products/records", headers=auth)
            assert r.status_code == 200
            client.get("/api/docs/Shop/tables/Nope/records", headers=auth)  # a 404 from the store
            client.get("/api/docs/Shop/tables", headers={"Authorization": "Bearer nope"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("prometheus-stack")
    copy_shop(root)
    ports = {name: free_port() for name in ("gateway", "prometheus", "alertmanager")}
    observe = (
        "observe:\n  prometheus:\n"
        f"    scrape_interval: {INTERVAL}\n    evaluation_interval: {INTERVAL}\n"
        "    store_probe_interval: 0.25\n    node_exporter: null\n"
        f"    gateway_targets: ['127.0.0.1:{ports['gateway']}']\n"
        f"    listen: 127.0.0.1:{ports['prometheus']}\n"
        f"    alertmanager: 127.0.0.1:{ports['alertmanager']}\n"
    )
    config_path = write_config(root, observe)
    config = parse_config(config_path.read_text(), str(config_path), root)
    out = root / "observe"
    write_stack(config, out, alert_for=f"{INTERVAL}s")
    paths = StackPaths(out)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    app = "gristops.gateway.app:app_factory"
    gateway = Service(
        "gateway",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["gateway"]),
            "--log-level",
            "warning",
        ],
        log_path=root / "gateway.log",
        env={"GRISTOPS_CONFIG": str(config_path)},
        cwd=Path(__file__).resolve().parents[2],
    )
    prometheus = Service(
        "prometheus",
        [
            "prometheus",
            f"--config.file={paths.prometheus}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            "--web.enable-lifecycle",
        ],
        log_path=root / "prometheus.log",
    )
    alertmanager = Service(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={paths.alertmanager}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
            f"--storage.path={root / 'am'}",
            "--cluster.listen-address=",
        ],
        log_path=root / "alertmanager.log",
    )
    with gateway, prometheus, alertmanager:
        gateway.wait_ready(lambda: ok(f"{urls['gateway']}/health"), 30)
        prometheus.wait_ready(lambda: ok(f"{urls['prometheus']}/-/ready"), 30)
        alertmanager.wait_ready(lambda: ok(f"{urls['alertmanager']}/-/ready"), 30)
        yield Stack(root, urls["gateway"], urls["prometheus"], urls["alertmanager"])


def test_prometheus_scrapes_the_gateway_and_the_rules_load(stack: Stack) -> None:
    wait_for("gateway target up", lambda: stack.value('up{job="gristops-gateway"}') == 1, 15)
    groups = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in groups} >= {"gristops-slo", "gristops-gateway", "gristops-data"}
    assert all(r["health"] != "err" for g in groups for r in g["rules"])
    assert stack.value("gristops_store_up") == 1


def test_every_dashboard_query_evaluates_after_traffic(stack: Stack) -> None:
    send_traffic(stack.gateway)
    time.sleep(3 * INTERVAL)  # a few scrapes apart, so rates have two samples
    send_traffic(stack.gateway)
    wait_for(
        "traffic scraped",
        lambda: (stack.value("sum(rate(gristops_http_requests_total[1m]))") or 0) > 0,
        15,
    )
    config = parse_config("grist: {document_id: Shop}\n")
    failures, empty = [], []
    for name in dashboard_names():
        for title, expr in panel_queries(render_dashboard(config, name)):
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            try:
                result = stack.query(expr)["data"]["result"]
            except AssertionError as exc:
                failures.append(f"{name} / {title}: {exc}")
                continue
            if not result and not any(prefix in expr for prefix in NO_DATA_YET):
                empty.append(f"{name} / {title}: {expr}")
    assert not failures, "\n".join(failures)
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_store_fault_fires_store_unreachable_and_reaches_alertmanager(stack: Stack) -> None:
    wait_for("store up", lambda: stack.value("gristops_store_up") == 1, 15)
    doc = stack.root / "data" / "docs" / "Shop.grist"
    aside = doc.with_name("Shop.grist.away")
    os.rename(doc, aside)
    try:
        assert httpx.get(f"{stack.gateway}/ready", timeout=5).status_code == 503
        wait_for("store_up 0 in Prometheus", lambda: stack.value("gristops_store_up") == 0, 15)
        # The rule's `for:` plus two evaluation intervals, and a second for scheduling.
        wait_for(
            "StoreUnreachable firing",
            lambda: "firing" in stack.alert_states("StoreUnreachable"),
            INTERVAL + 2 * INTERVAL + 1,
        )

        def in_alertmanager() -> bool:
            alerts = httpx.get(f"{stack.alertmanager}/api/v2/alerts", timeout=5).json()
            return any(a["labels"]["alertname"] == "StoreUnreachable" for a in alerts)

        wait_for("StoreUnreachable in Alertmanager", in_alertmanager, 15)
    finally:
        os.rename(aside, doc)
    wait_for("store_up back to 1", lambda: stack.value("gristops_store_up") == 1, 15)
    wait_for("StoreUnreachable resolved", lambda: not stack.alert_states("StoreUnreachable"), 15)
