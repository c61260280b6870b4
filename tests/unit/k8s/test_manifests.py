"""What `gristops k8s render` refuses, and agent schedules as cron schedules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.config import Config, env_names
from gristops.config.observe import JobSpec
from gristops.errors import ConfigError
from gristops.k8s.cron import cron_schedule
from gristops.k8s.manifests import check_config


def pod_config(**changes: object) -> Config:
    data: dict[str, object] = {
        "data_dir": "/var/lib/gristops",
        "grist": {
            "document_id": "Shop",
            "base_url": "http://grist:8484",
            "api_key_file": "/etc/gristops/secrets/grist-api-key",
        },
        "server": {"host": "0.0.0.0"},
        "state": {"url": "postgresql://gristops@db:5432/gristops"},
        **changes,
    }
    return Config.model_validate(data)


def test_a_pod_ready_config_passes() -> None:
    check_config(pod_config())


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"server": {"host": "127.0.0.1"}}, "server.host is 127.0.0.1"),
        ({"data_dir": "data"}, "data_dir is data"),
        ({"state": {}}, "state.url is unset, so each pod would keep its own state"),
        ({"grist": {"document_id": "Shop"}}, r"served from files \(embedded store\)"),
        (
            {"backup": {"encryption": {"passphrase_file": "/root/pass"}}},
            "backup.encryption.passphrase_file is /root/pass",
        ),
    ],
)
def test_what_cannot_run_in_a_pod_is_refused(changes: dict[str, object], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        check_config(pod_config(**changes))


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        ({"every": "15m"}, "*/15 * * * *"),
        ({"every": "1m"}, "* * * * *"),
        ({"every": "1h"}, "0 * * * *"),
        ({"every": "6h"}, "0 */6 * * *"),
        ({"every": "1d"}, "0 0 * * *"),
        ({"at": ["02:30"]}, "30 2 * * *"),
        ({"at": ["01:05", "13:05"], "days": ["mon", "fri"]}, "5 1,13 * * 1,5"),
    ],
)
def test_agent_schedules_become_cron_schedules(schedule: dict[str, object], cron: str) -> None:
    assert cron_schedule(JobSpec(name="job", command=("backup", "run"), **schedule)) == cron  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "schedule",
    [
        {"every": "30s"},
        {"every": "7m"},
        {"every": "5h"},
        {"every": "2d"},
        {"at": ["01:00", "02:30"]},
    ],
)
def test_schedules_cron_cannot_say_are_refused(schedule: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="'job'"):
        cron_schedule(JobSpec(name="job", command=("backup", "run"), **schedule))  # type: ignore[arg-type]


def test_env_names_are_the_values_variables_not_the_comments() -> None:
    text = "# ${NOT_THIS}\ngrist: {api_key: '${KEY}', base_url: 'http://${HOST:-grist}'}\nx: ['${KEY}']\n"
    assert env_names(text) == ["KEY", "HOST"]
    assert env_names("a: [unclosed") == []


def test_render_says_what_to_fix_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gristops.yaml"
    config.write_text("data_dir: data\ngrist: {document_id: Shop}\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "gristops", "k8s", "render", "-c", str(config), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error:") and lines[1].startswith("hint:")
    assert "server.host is 127.0.0.1" in lines[0] and "data_dir is data" in lines[0]
    assert "embedded store" in lines[0]
    assert not out.exists()


def test_render_names_a_config_it_cannot_read(tmp_path: Path) -> None:
    missing = tmp_path / "no.yaml"
    result = CliRunner().invoke(app, ["k8s", "render", "-c", str(missing), "-o", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.message == f"cannot read {missing}: No such file or directory"
