"""Gateway metrics summed over worker processes (prometheus_client's multiprocess files).

prometheus_client picks its value storage when it is imported, so each
"worker" here is a real Python process started with PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gristops.errors import ConfigError
from gristops.observe.metrics import create_metrics

WORKER = """
import sys
from pathlib import Path
from prometheus_client import Gauge
from gristops.observe.metrics import create_metrics

metrics = create_metrics(Path(sys.argv[1]))
metrics.requests.labels("GET", "/x", "200").inc(int(sys.argv[2]))
Gauge("gristops_test_live", "a live gauge", registry=metrics.values,
      multiprocess_mode="livesum").set(5)
"""
SCRAPE = """
import sys
from pathlib import Path
from prometheus_client import generate_latest
from gristops.observe.metrics import create_metrics

print(generate_latest(create_metrics(Path(sys.argv[1])).registry).decode())
"""


def python(script: str, *args: object, shared: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def samples(text: str) -> dict[str, float]:
    return {
        s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
    }


def test_a_scrape_sums_every_worker_and_drops_the_live_gauges_of_dead_ones(
    tmp_path: Path,
) -> None:
    python(WORKER, tmp_path, 3, shared=tmp_path)
    python(WORKER, tmp_path, 4, shared=tmp_path)
    scraped = samples(python(SCRAPE, tmp_path, shared=tmp_path))
    assert scraped["gristops_http_requests_total"] == 7  # both exited: still counted
    assert "gristops_test_live" not in scraped  # their live gauges went with them
    assert not list(tmp_path.glob("gauge_live*"))
    assert scraped["process_cpu_seconds_total"] > 0


def test_shared_metrics_without_the_environment_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        create_metrics(tmp_path)


def test_one_process_exports_its_cpu_and_memory() -> None:
    metrics = create_metrics()
    assert (metrics.registry.get_sample_value("process_resident_memory_bytes") or 0) > 0
    assert metrics.registry.get_sample_value("process_cpu_seconds_total") is not None
    assert (metrics.registry.get_sample_value("process_start_time_seconds") or 0) > 1e9
