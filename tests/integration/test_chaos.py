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

import pytest

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
