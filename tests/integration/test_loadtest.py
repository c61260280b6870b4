"""`gristops loadtest` against the real stack: the gateway (uvicorn) on `gristops init`'s sample
document behind the real nginx edge over TLS, and the deploy's load-test gate on a gateway.

The run is the shipped plan, shortened to 15 s of load, with its seed thresholds
(p95 under 500 ms, under 1 % errors): the CI gate of the gateway's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gristops.config import load_config
from gristops.deploy.probe import GateFailed, load_gate
from gristops.edge.nginx import Nginx, render
from gristops.loadtest.plan import default_plan_text, parse_plan
from tests.gateway_harness import copy_shop, free_port, running_gateway

pytestmark = pytest.mark.integration

SHORT_STAGES = """\
stages:
  - {duration: 6s, users: 6}
  - {duration: 7s, users: 6}
  - {duration: 2s, users: 0}
"""


def gristops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )  # fmt: skip


def short_default_plan() -> str:
    """The shipped plan with 15 s of stages, shorter think times and no repeated logins.

    Each user still logs in at its start (a bcrypt check of cost 12, seconds long when the
    machine is shared); repeated logins would make them too large a share of so short a run
    for its overall p95 to say anything about the rest.
    """
    text = default_plan_text()
    head, _, rest = text.partition("stages:\n")
    rest = rest[rest.index("\nscenarios:") + 1 :]
    rest = rest.replace("  login: {kind: login, weight: 1}\n", "")
    rest = rest[: rest.index("  scenarios:\n")]
    return head.replace("think_time: [0.2, 0.8]", "think_time: [0.05, 0.2]") + SHORT_STAGES + rest


def test_the_default_plan_through_nginx_over_tls_passes_the_seed_thresholds(tmp_path: Path) -> None:
    init = gristops("init", "--dir", str(tmp_path), "--json")
    assert init.returncode == 0, init.stderr
    password = json.loads(init.stdout)["admin_password"]
    http_port, https_port = free_port(), free_port()
    # Logins and refreshes share nginx's per-address /auth/ limit: one address sends them all here.
    edge = f"""\
edge: {{listen_address: 127.0.0.1, http_port: {http_port}, https_port: {https_port},
        worker_user: root, auth_rate_per_minute: 6000, auth_burst: 100}}
"""
    plan = tmp_path / "plan.yaml"
    plan.write_text(short_default_plan())
    with running_gateway(tmp_path, edge) as gateway:
        config = load_config(tmp_path / "gristops.yaml")
        nginx = Nginx(config)
        nginx.apply(render(config, upstream_port=int(gateway.url.rsplit(":", 1)[1]), web_root=None))
        nginx.start()
        try:
            untrusted = gristops(
                "loadtest", str(plan), "--url", f"https://127.0.0.1:{https_port}",
                env={"GRISTOPS_LOADTEST_PASSWORD": password},
            )  # fmt: skip
            run = gristops(
                "loadtest", str(plan), "--url", f"https://127.0.0.1:{https_port}",
                "--ca-file", str(nginx.paths.selfsigned_certificate),
                "--json", "--out", str(tmp_path / "result.json"), "--html", str(tmp_path / "report.html"),
                env={"GRISTOPS_LOADTEST_PASSWORD": password},
            )  # fmt: skip
        finally:
            nginx.stop()
    # Without --ca-file the edge's bootstrap certificate is not trusted: one line, no load sent.
    assert untrusted.returncode == 2
    assert "its TLS certificate is not trusted" in untrusted.stderr
    assert "--ca-file" in untrusted.stderr
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    result = json.loads(run.stdout)
    assert result == json.loads((tmp_path / "result.json").read_text())
    assert result["passed"] is True
    overall = result["overall"]
    assert overall["requests"] > 100 and overall["error_rate"] < 0.01 and overall["p95_ms"] < 500
    assert {"login (new session)", "list_products", "filter_products", "read_product", "refresh",
            "create_order", "update_stock"} <= set(result["scenarios"])  # fmt: skip
    assert result["peak_users"] == 6
    assert [c["metric"] for c in result["checks"]] == ["p95_ms", "error_rate"]
    busy = [point for point in result["timeline"] if point["overall"]["requests"]]
    assert len(busy) >= 10
    report = (tmp_path / "report.html").read_text()
    assert 'gristops loadtest <span class="verdict passed">passed' in report
    assert report.count("<svg") == 2 and "<script" not in report and "src=" not in report
    assert password not in run.stdout + run.stderr + report


def test_the_deploy_gate_runs_a_plan_against_a_slot_and_names_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = parse_plan(
        """\
document: Shop
login: {email: admin@shop.test}
think_time: [0.05, 0.1]
stages: [{duration: 3s, users: 2}]
scenarios:
  products: {kind: list, table: Products, query: {limit: 5}}
thresholds:
  overall: {error_rate: 0.01, p50_ms: 0.001}
""",
        "gate.yaml",
    )
    monkeypatch.setenv("GRISTOPS_LOADTEST_PASSWORD", "Admin!2024")
    copy_shop(tmp_path)
    with (
        running_gateway(tmp_path, "server: {workers: 1}\n") as gateway,
        pytest.raises(GateFailed) as failed,
    ):
        load_gate(gateway.url, plan, "gate.yaml")
    assert str(failed.value).startswith("load test failed: overall p50_ms ")
    assert str(failed.value).endswith("(at most 0.001)")
    assert "error_rate" not in str(failed.value)
