"""The ops collector on a real registry and state DB: a broken area is isolated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from gristops.config import Config, parse_config
from gristops.gateway.ops_metrics import OPS_AREAS
from gristops.observe.collector import OpsCollector
from gristops.state.db import StateDB


def good(config: Config, state: StateDB) -> list[Metric]:
    return [GaugeMetricFamily("gristops_test_ok", "A gauge from a working area.", value=7)]


def broken(config: Config, state: StateDB) -> list[Metric]:
    raise RuntimeError("catalog table is missing")


def wrong_type(config: Config, state: StateDB) -> list[Metric]:
    return ["not a metric"]  # type: ignore[list-item]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config(f"data_dir: {tmp_path}\ngrist: {{document_id: Shop}}\n")


@pytest.fixture
def state(config: Config) -> Iterator[StateDB]:
    db = StateDB(config.state_path)
    yield db
    db.close()


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, parsed back from the exposition text."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_failing_area_costs_only_its_own_metrics(config: Config, state: StateDB) -> None:
    registry = CollectorRegistry()
    areas = {"good": good, "broken": broken, "wrong_type": wrong_type}
    registry.register(OpsCollector(config, state, areas, registry))
    scrape(registry)
    scrape(registry)
    samples = scrape(registry)
    assert samples[("gristops_test_ok", ())] == 7
    errors = {
        dict(labels)["module"]: value
        for (name, labels), value in samples.items()
        if name == "gristops_collector_errors_total"
    }
    # The counter (summed over gateway workers) is read before this scrape's areas:
    # the third scrape shows the failures of the first two.
    assert errors == {"good": 0, "broken": 2, "wrong_type": 2}
    read_times = [n for (n, _labels) in samples if n == "gristops_collector_duration_seconds"]
    assert len(read_times) == len(areas)


def test_the_real_ops_areas_export_the_metrics_the_alerts_use(
    config: Config, state: StateDB
) -> None:
    registry = CollectorRegistry()
    registry.register(OpsCollector(config, state, OPS_AREAS, registry))
    samples = scrape(registry)
    names = {name for name, _labels in samples}
    errors = {
        dict(labels)["module"]: v
        for (n, labels), v in samples.items()
        if n == "gristops_collector_errors_total"
    }
    assert set(errors) == {"backup", "replication", "tls", "deploy", "agent", "scan", "gitops"}
    assert not any(errors.values()), errors
    # The names the alert rules are written against.
    assert {
        "gristops_backup_last_drill_success",
        "gristops_deploys_total",
        "gristops_scan_last_run_timestamp_seconds",
    } <= names
