"""Deploy history in the state DB, the DORA measures and the deploy metrics computed from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.config import Config
from gristops.deploy.dora import compute
from gristops.deploy.metrics import metric_families
from gristops.deploy.records import DeployRecords
from gristops.deploy.release import Release
from gristops.state.db import StateDB


@pytest.fixture
def records(state_location: Path | str) -> DeployRecords:
    return DeployRecords(StateDB(state_location))


def release(n: int, commit_time: float | None = None) -> Release:
    return Release(f"1.0-{n:012d}", "1.0", Path("x.whl"), None, None, commit_time)


def record(records: DeployRecords, n: int, outcome: str, switched: bool = True) -> int:
    r = release(n, commit_time=1.0)
    entry = records.begin(
        "deploy", release_id=r.id, version=r.version, previous_id=None, slot="blue",
        actor="ann", commit_time=r.commit_time,
    )  # fmt: skip
    if switched:
        records.switched(entry)
    records.finish(entry, outcome, None if outcome == "success" else "why")  # type: ignore[arg-type]
    return entry


def test_slots_and_the_active_one(records: DeployRecords) -> None:
    records.installed("blue", release(1), None)
    records.installed("green", release(2), "/srv/web")
    assert records.active() is None
    records.activate("green")
    active = records.active()
    assert active is not None and active.slot == "green" and active.web_root == "/srv/web"
    records.activate(None)
    assert records.active() is None


def test_dora_from_history(records: DeployRecords) -> None:
    record(records, 1, "success")
    record(records, 2, "rolled_back")
    record(records, 3, "failed", switched=False)
    record(records, 4, "success")
    records.mark_reverted(release(4).id)
    dora = compute(records, days=1)
    assert dora.deploys == 3
    assert dora.failed_attempts == 1
    assert dora.change_failure_rate == pytest.approx(2 / 3)
    assert dora.deployment_frequency_per_day == 2
    assert dora.lead_time_seconds is not None and dora.lead_time_seconds > 0
    assert dora.recovery_time_seconds is not None


def test_dora_with_no_history(records: DeployRecords) -> None:
    dora = compute(records)
    assert dora.deploys == 0 and dora.change_failure_rate is None


def test_metric_families(records: DeployRecords, tmp_path: Path) -> None:
    config = Config.model_validate({"data_dir": str(tmp_path), "grist": {"document_id": "Shop"}})
    record(records, 1, "success")
    record(records, 2, "rolled_back")
    records.installed("blue", release(1), None)
    records.activate("blue")
    families = {f.name: f for f in metric_families(config, records.state)}
    counts = {s.labels["outcome"]: s.value for s in families["gristops_deploys"].samples}
    assert counts == {"success": 1, "rolled_back": 1, "failed": 0}
    assert families["gristops_deploy_last_timestamp_seconds"].samples[0].value > 0
    info = families["gristops_deploy_active_slot_info"].samples[0]
    assert info.labels == {"slot": "blue", "release": release(1).id} and info.value == 1
