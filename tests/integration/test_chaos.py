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


@pytest.fixture(scope="module")
def prometheus(stage: Stage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus with the rendered rules (1 s scrape, evaluation and `for:`)
    scraping the stage's gateway; its URL."""
    root = tmp_path_factory.mktemp("chaos-prometheus")
    port = free_port()
    text = (
        f"grist: {{document_id: {stage.doc_id}}}\nobserve:\n  prometheus:\n"
        "    scrape_interval: 1\n    evaluation_interval: 1\n    node_exporter: null\n"
        f"    gateway_targets: ['{stage.gateway.url.removeprefix('http://')}']\n"
        f"    listen: 127.0.0.1:{port}\n    alertmanager: 127.0.0.1:{free_port()}\n"
    )
    write_stack(parse_config(text, str(root / "gristops.yaml"), root), root / "o", "1s")
    url = f"http://127.0.0.1:{port}"
    args = [
        "prometheus",
        f"--config.file={StackPaths(root / 'o').prometheus}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={root / 'tsdb'}",
    ]
    with Service("prometheus", args, log_path=root / "prometheus.log") as running:
        running.wait_ready(lambda: ok(f"{url}/-/ready"), 30)
        wait_for("the gateway scraped", lambda: query(url, "gristops_grist_breaker_open") == 0, 30)
        yield url


def query(url: str, promql: str) -> float | None:
    found = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    result = found["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def passes(name: str, stage: Stage) -> dict[str, object]:
    outcome = run_experiment(name, stage, short=SHORT)
    print(f"\n{name} figures: {json.dumps(outcome['figures'], sort_keys=True)}")
    assert outcome["passed"], f"{outcome['problems']}\n{outcome['stderr']}"
    assert outcome["steady_state_before"] and outcome["steady_state_after"]
    assert set(outcome["rollbacks"].values()) == {"succeeded"}
    figures: dict[str, object] = outcome["figures"]
    return figures


def test_grist_killed_reads_go_on_writes_fail_fast_and_none_is_lost(
    stage: Stage, prometheus: str
) -> None:
    figures = passes("grist-killed", stage)
    assert figures["reads_failed"] == 0
    assert figures["writes_failed"] and figures["writes_ok"]
    assert set(figures["failed_write_statuses"]) <= {"503", "429"}  # type: ignore[arg-type]
    assert figures["ready_503_seen"] and figures["breaker_open_seen"]
    assert figures["acknowledged_missing"] == figures["acknowledged_duplicated"] == 0
    # The outage fired GristCircuitOpen on Prometheus, and it resolved once Grist was back.
    firing = 'ALERTS{alertname="GristCircuitOpen", alertstate="firing"}'
    assert query(prometheus, f"max_over_time({firing}[10m])") == 1
    wait_for("GristCircuitOpen resolved", lambda: query(prometheus, firing) is None, 20)


def test_grist_hung_requests_are_bounded_by_the_timeout(stage: Stage) -> None:
    figures = passes("grist-hangs", stage)
    assert figures["reads_failed"] == 0
    assert figures["writes_failed"]


def test_grist_slow_shows_in_writes_not_in_hybrid_reads(stage: Stage) -> None:
    figures = passes("grist-slow", stage)
    assert figures["reads_failed"] == figures["writes_failed"] == 0


@pytest.mark.skipif(
    shutil.which("stress-ng") is None, reason="needs stress-ng (make install-system)"
)
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
