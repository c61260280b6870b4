"""The ops collector on a real registry and state DB: absent areas skipped, a broken one isolated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gristops.config import Config, parse_config
from gristops.observe.collector import OPS_MODULES, OpsCollector
from gristops.state.db import StateDB

GOOD = """\
from prometheus_client.core import GaugeMetricFamily

def metric_families(config, state):
    return [GaugeMetricFamily("gristops_test_ok", "A gauge from a working area.", value=7)]
"""
BROKEN = """\
def metric_families(config, state):
    raise RuntimeError("catalog table is missing")
"""
WRONG_TYPE = """\
def metric_families(config, state):
    return ["not a metric"]
"""
BAD_IMPORT = "import gristops_no_such_dependency\n"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config(f"data_dir: {tmp_path}\ngrist: {{document_id: Shop}}\n")


@pytest.fixture
def state(config: Config) -> Iterator[StateDB]:
    db = StateDB(config.state_path)
    yield db
    db.close()


@pytest.fixture
def areas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real modules on sys.path, one per behaviour."""
    folder = tmp_path / "areas"
    folder.mkdir()
    for name, text in {
        "ops_good": GOOD,
        "ops_broken": BROKEN,
        "ops_wrong_type": WRONG_TYPE,
        "ops_bad_import": BAD_IMPORT,
    }.items():
        (folder / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(folder))


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, parsed back from the exposition text."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.usefixtures("areas")
def test_a_failing_area_costs_only_its_own_metrics(config: Config, state: StateDB) -> None:
    registry = CollectorRegistry()
    modules = [
        "ops_good",
        "ops_broken",
        "ops_wrong_type",
        "ops_bad_import",
        "gristops.nothing.here",
    ]
    registry.register(OpsCollector(config, state, modules))
    scrape(registry)
    samples = scrape(registry)
    assert samples[("gristops_test_ok", ())] == 7
    errors = {
        dict(labels)["module"]: value
        for (name, labels), value in samples.items()
        if name == "gristops_collector_errors_total"
    }
    # Two scrapes: each broken area counted twice; a missing area is not an error.
    assert errors == {
        "ops_good": 0,
        "ops_broken": 2,
        "ops_wrong_type": 2,
        "ops_bad_import": 2,
        "gristops.nothing.here": 0,
    }
    read_times = [n for (n, _labels) in samples if n == "gristops_collector_duration_seconds"]
    assert len(read_times) == len(modules)


def test_the_real_ops_areas_export_the_metrics_the_alerts_use(
    config: Config, state: StateDB
) -> None:
    registry = CollectorRegistry()
    registry.register(OpsCollector(config, state))
    names = {name for name, _labels in scrape(registry)}
    errors = {
        dict(labels)["module"]: v
        for (n, labels), v in scrape(registry).items()
        if n == "gristops_collector_errors_total"
    }
    assert set(errors) == set(OPS_MODULES)
    assert not any(errors.values()), errors
    # Areas present in this tree must give the names the alert rules are written against.
    expected = {
        "gristops.backup.metrics": {"gristops_backup_last_drill_success"},
        "gristops.deploy.metrics": {"gristops_deploys_total"},
    }
    for module, metric_names in expected.items():
        try:
            __import__(module)
        except ModuleNotFoundError:
            continue
        assert metric_names <= names, module
