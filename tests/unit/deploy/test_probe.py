"""Judging live traffic from two /metrics samples; the load-test gate's plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from gristops.config.load import parse_config
from gristops.deploy.deployer import Deployer
from gristops.deploy.probe import TrafficSample, gate_plan
from gristops.deploy.records import DeployRecords
from gristops.deploy.release import Release
from gristops.deploy.slots import SlotPlace
from gristops.errors import ConfigError
from gristops.loadtest.plan import default_plan_text
from gristops.state.db import StateDB

INF = float("inf")


def test_window_and_p95() -> None:
    before = TrafficSample(10, 0, ((0.01, 10), (0.1, 10), (1.0, 10), (INF, 10)))
    after = TrafficSample(110, 5, ((0.01, 10), (0.1, 105), (1.0, 110), (INF, 110)))
    window = after.since(before)
    assert window.requests == 100 and window.errors == 5
    # 95 of the window's 100 requests took up to 0.1 s; 5 more up to 1 s.
    assert window.p95() == pytest.approx(0.1)
    # Five more slow answers move it into the next bucket.
    slower = TrafficSample(115, 5, ((0.01, 10), (0.1, 105), (1.0, 115), (INF, 115)))
    assert 0.1 < slower.since(before).p95() <= 1.0


def test_p95_in_the_open_bucket_is_its_lower_bound() -> None:
    sample = TrafficSample(10, 0, ((0.5, 0), (INF, 10)))
    assert sample.p95() == pytest.approx(0.5)


def test_empty_window() -> None:
    assert TrafficSample(0, 0, ()).p95() == 0.0


def test_the_load_gate_refuses_a_plan_that_writes(tmp_path: Path) -> None:
    """The new slot serves the live document: the gate's plan may only read."""
    plan = tmp_path / "gate.yaml"
    plan.write_text(default_plan_text())
    with pytest.raises(ConfigError) as refused:
        gate_plan(plan)
    assert refused.value.message == (
        f"deploy.loadtest: {plan} writes (create_order, update_stock) and the new slot serves "
        "the live document"
    )
    reads = default_plan_text().split("  create_order:")[0] + "thresholds: {}\n"
    plan.write_text(reads)
    assert gate_plan(plan).writes() == []


def test_a_deploy_with_a_writing_gate_plan_stops_before_anything_is_installed(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "gate.yaml"
    plan.write_text(default_plan_text())
    config = parse_config(
        f"data_dir: data\ngrist: {{document_id: Shop}}\ndeploy: {{loadtest: {plan.name}}}\n",
        str(tmp_path / "gristops.yaml"),
        tmp_path,
    )
    assert config.deploy.loadtest == plan  # relative to gristops.yaml
    state = StateDB(config.state_path)
    release = Release("1.0-000000000001", "1.0", tmp_path / "x.whl", None, None, None)
    with pytest.raises(ConfigError, match=r"deploy\.loadtest: .* writes"):
        Deployer(config, state).deploy(release, actor="ann")
    assert DeployRecords(state).history(10) == []
    assert not SlotPlace.of(config, "blue").root.exists()
