"""The chaos experiments against real faults: a live grist-core killed, hung and slowed, a full
tmpfs under the data folder, stress-ng on every core.

Each runs through `gristops chaos run NAME --short` (seconds, not minutes); `make chaos`
sets GRISTOPS_CHAOS_FULL=1 and runs the full-length ones, printing their figures.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gristops.chaos.actions import kill_process, start_service
from gristops.config import parse_config
from gristops.observe.stack import StackPaths, write_stack
from gristops.runtime.process import Service
from tests.gateway_harness import free_port
from tests.integration.test_prometheus_stack import ok, wait_for
from tests.support.chaos_stage import Stage, embedded_stage_on_tmpfs, hybrid_stage, run_experiment
from tests.support.grist_peer import GristPeer

pytestmark = [pytest.mark.integration, pytest.mark.grist_live]

SHORT = os.environ.get("GRISTOPS_CHAOS_FULL", "") in ("", "0")


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    with hybrid_stage(tmp_path_factory.mktemp("chaos-stage")) as running:
        yield running


def passes(name: str, stage: Stage) -> dict[str, object]:
    outcome = run_experiment(name, stage, short=SHORT)
    print(f"\n{name} figures: {json.dumps(outcome['figures'], sort_keys=True)}")
    assert outcome["passed"], f"{outcome['problems']}\n{outcome['stderr']}"
    assert outcome["steady_state_before"] and outcome["steady_state_after"]
    assert set(outcome["rollbacks"].values()) == {"succeeded"}
    figures: dict[str, object] = outcome["figures"]
    return figures


def test_grist_killed_reads_go_on_writes_fail_fast_and_none_is_lost(stage: Stage) -> None:
    figures = passes("grist-killed", stage)
    assert figures["reads_failed"] == 0
    assert figures["writes_failed"] and figures["writes_ok"]
    assert figures["failed_write_statuses"] == {"503": figures["writes_failed"]}
    assert figures["ready_503_seen"] and figures["breaker_open_seen"]
    assert figures["acknowledged_missing"] == figures["acknowledged_duplicated"] == 0


def test_grist_hung_requests_are_bounded_by_the_timeout(stage: Stage) -> None:
    figures = passes("grist-hangs", stage)
    assert figures["reads_failed"] == 0
    assert figures["writes_failed"]


def test_grist_slow_shows_in_writes_not_in_hybrid_reads(stage: Stage) -> None:
    figures = passes("grist-slow", stage)
    assert figures["reads_failed"] == figures["writes_failed"] == 0


@pytest.mark.skipif(shutil.which("stress-ng") is None, reason="needs stress-ng (make install-system)")
def test_cpu_stress_on_every_core_keeps_reads_fast(stage: Stage) -> None:
    figures = passes("cpu-stress", stage)
    assert figures["reads_failed"] == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_disk_full_gives_clear_errors_and_corrupts_nothing(
    tmp_path: Path, grist_peer: GristPeer
) -> None:
    with embedded_stage_on_tmpfs(tmp_path, grist_peer) as disk_stage:
        figures = passes("disk-full", disk_stage)
    assert figures["failed_write_statuses"] == {"507": figures["writes_failed"]}
    assert figures["writes_ok"]


def test_grist_killed_fires_grist_circuit_open_on_prometheus_and_it_resolves(
    stage: Stage, tmp_path: Path
) -> None:
    """The rendered rules (1 s `for:`) on a real Prometheus scraping the stage's gateway."""
    assert stage.grist is not None
    port = free_port()
    text = (
        f"grist: {{document_id: {stage.doc_id}}}\nobserve:\n  prometheus:\n"
        "    scrape_interval: 1\n    evaluation_interval: 1\n    node_exporter: null\n"
        f"    gateway_targets: ['{stage.gateway.url.removeprefix('http://')}']\n"
        f"    listen: 127.0.0.1:{port}\n    alertmanager: 127.0.0.1:{free_port()}\n"
    )
    write_stack(parse_config(text, str(tmp_path / "gristops.yaml"), tmp_path), tmp_path / "o", "1s")
    url = f"http://127.0.0.1:{port}"
    prometheus = Service(
        "prometheus",
        [
            "prometheus",
            f"--config.file={StackPaths(tmp_path / 'o').prometheus}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        log_path=tmp_path / "prometheus.log",
    )

    def states() -> set[str]:
        alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return {a["state"] for a in alerts if a["labels"]["alertname"] == "GristCircuitOpen"}

    def breaker() -> float | None:
        query = {"query": "gristops_grist_breaker_open"}
        found = httpx.get(f"{url}/api/v1/query", params=query, timeout=5).json()["data"]["result"]
        return float(found[0]["value"][1]) if found else None

    variables = stage.variables()
    with prometheus:
        prometheus.wait_ready(lambda: ok(f"{url}/-/ready"), 30)
        wait_for("the gateway scraped, breaker closed", lambda: breaker() == 0, 15)
        kill_process(variables["grist_pid_file"])
        try:
            wait_for("GristCircuitOpen firing", lambda: "firing" in states(), 20)
            assert httpx.get(f"{stage.gateway.url}/ready", timeout=10).status_code == 503
        finally:
            start_service(variables["grist_start"], f"{variables['grist_url']}/status")
        wait_for("GristCircuitOpen resolved", lambda: not states(), 20)
