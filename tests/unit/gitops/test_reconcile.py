"""Reconcile passes that deploy nothing, against a real local git repository.

The live release is recorded in the state DB as a deploy would have left it,
so these passes see it as live without starting slots (the integration test
deploys for real).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from gristops.config import load_config
from gristops.deploy.records import DeployRecords
from gristops.deploy.release import load_release
from gristops.errors import ConfigError, ReconcileBusy
from gristops.gitops.diff import config_diff, masked
from gristops.gitops.metrics import metric_families
from gristops.gitops.reconcile import Reconciler, reconcile_lock
from gristops.gitops.records import GitopsRun, GitopsRuns
from gristops.gitops.repo import repo_source
from gristops.state.db import StateDB

BASE = {"grist": {"document_id": "Shop"}, "server": {"port": 8484}}


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Box:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        self.live = root / "gristops.yaml"
        self.wheel = root / "gristops-1.0.0-py3-none-any.whl"
        with zipfile.ZipFile(self.wheel, "w") as archive:
            archive.writestr("gristops/__init__.py", "")
        self.state = StateDB(root / "data" / "state.db")

    def commit(self, files: dict[str, Any]) -> str:
        for rel, data in files.items():
            path = self.repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(data))
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "--allow-empty", "-m", "change")
        return git(self.repo, "rev-parse", "HEAD")

    def write_live(self, config: dict[str, Any], **gitops: Any) -> None:
        self.live.write_text(yaml.safe_dump({**config, "gitops": {"repo": "repo", **gitops}}))

    def release_is_live(self) -> None:
        records = DeployRecords(self.state)
        records.installed("blue", load_release(self.wheel), None)
        records.activate("blue")

    def reconciler(self) -> Reconciler:
        return Reconciler(load_config(self.live), self.state)


@pytest.fixture
def box(tmp_path: Path) -> Box:
    box = Box(tmp_path)
    box.commit({"base/gristops.yaml": BASE, "base/release.yaml": {"path": str(box.wheel)}})
    return box


def test_a_live_state_equal_to_the_commit_is_in_sync_and_a_hand_edit_is_drift(box: Box) -> None:
    box.write_live(BASE)
    box.release_is_live()
    first = box.reconciler().sync()
    assert first.outcome == "in_sync", first.reason
    box.write_live({**BASE, "server": {"port": 9000}})
    drift = box.reconciler().sync()
    assert drift.outcome == "drift" and drift.changes == ["config"]
    assert "-  port: 9000" in drift.diff and "+  port: 8484" in drift.diff
    assert "revert_drift" in (drift.hint or "")
    gauges = {f.name: f.samples for f in metric_families(load_config(box.live), box.state)}
    assert gauges["gristops_gitops_drift"][0].value == 1.0
    assert gauges["gristops_gitops_applied_info"][0].labels == {"commit": first.commit}
    passes = {s.labels["outcome"]: s.value for s in gauges["gristops_gitops_passes"]}
    assert passes["in_sync"] == 1 and passes["drift"] == 1


def test_a_release_deployed_by_hand_is_drift(box: Box) -> None:
    box.write_live(BASE)
    box.release_is_live()
    assert box.reconciler().sync().outcome == "in_sync"
    other = box.root / "other" / "gristops-1.0.1-py3-none-any.whl"
    other.parent.mkdir()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("gristops/__init__.py", "# by hand\n")
    records = DeployRecords(box.state)
    records.installed("green", load_release(other), None)
    records.activate("green")
    drift = box.reconciler().sync()
    assert drift.outcome == "drift" and drift.changes == ["release"] and drift.diff == ""
    assert drift.reason is not None and drift.reason.startswith("live release differs from")


def test_a_head_marked_bad_with_nothing_applied_before_is_skipped(box: Box) -> None:
    box.write_live(BASE)
    head = git(box.repo, "rev-parse", "HEAD")
    GitopsRuns(box.state).record(
        GitopsRun(0, 1.0, 2.0, "sync", head, head, "rolled_back", True, None, "", "", "bad")
    )
    result = box.reconciler().sync()
    assert result.outcome == "skipped" and result.head_bad
    assert "marked bad" in (result.reason or "")


def test_a_repository_that_moves_data_dir_is_refused(box: Box) -> None:
    box.write_live(BASE)
    box.commit({"base/gristops.yaml": {**BASE, "data_dir": "/elsewhere"}})
    result = box.reconciler().sync()
    assert result.outcome == "failed"
    assert "gitops never moves data" in (result.hint or "")
    assert yaml.safe_load(box.live.read_text())["server"] == {"port": 8484}


def test_a_missing_branch_fails_the_fetch_with_its_name(box: Box) -> None:
    box.write_live(BASE, branch="release")
    result = box.reconciler().sync()
    assert result.outcome == "failed"
    assert "cannot fetch branch release" in (result.reason or "")


def test_one_pass_at_a_time(box: Box) -> None:
    box.write_live(BASE)
    config = load_config(box.live)
    with reconcile_lock(config), pytest.raises(ReconcileBusy):
        box.reconciler().sync()


def test_repository_addresses(box: Box) -> None:
    box.write_live(BASE)
    config = load_config(box.live)
    assert repo_source(config) == str(box.repo)
    for url in ("https://git.example/a.git", "ssh://git@h/a", "git@github.com:o/a.git"):
        remote = config.model_copy(
            update={"gitops": config.gitops.model_copy(update={"repo": url})}
        )
        assert repo_source(remote) == url
    off = config.model_copy(update={"gitops": config.gitops.model_copy(update={"repo": None})})
    with pytest.raises(ConfigError, match=r"gitops\.repo is not set"):
        Reconciler(off, box.state)


def test_diffs_hide_literal_secrets_and_equal_data_has_none() -> None:
    live = {"grist": {"document_id": "Shop", "api_key": "aaa"}, "server": {"port": 1}}
    desired = {"grist": {"document_id": "Shop", "api_key": "bbb"}, "server": {"port": 2}}
    diff = config_diff(live, desired, ["grist.api_key"], live_name="live", desired_name="want")
    assert "aaa" not in diff and "bbb" not in diff and "+  port: 2" in diff
    assert masked(live, ["grist.api_key", "nowhere.key"])["grist"]["api_key"] == "***"
    assert config_diff(live, dict(live), [], live_name="a", desired_name="b") == ""


def gristops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args], capture_output=True, text=True, check=False
    )


def test_the_commands_print_the_pass_the_status_and_the_history(box: Box) -> None:
    box.write_live(BASE)
    box.release_is_live()
    synced = gristops("gitops", "sync", "-c", str(box.live))
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.strip().splitlines()[-1].startswith("in_sync: ")
    box.write_live({**BASE, "server": {"port": 9000}})
    drift = gristops("gitops", "sync", "-c", str(box.live))
    assert drift.returncode == 1
    assert "+  port: 8484" in drift.stdout and "differs from" in drift.stderr
    status = json.loads(gristops("gitops", "status", "--json", "-c", str(box.live)).stdout)
    assert status["applied_commit"] == git(box.repo, "rev-parse", "HEAD")
    assert status["last"]["outcome"] == "drift" and "port: 9000" in status["drift"]
    shown = gristops("gitops", "status", "-c", str(box.live)).stdout
    assert "last pass: drift" in shown and "drift:" in shown
    history = gristops("gitops", "history", "-c", str(box.live)).stdout.splitlines()
    assert [line.split()[4] for line in history] == ["drift", "in_sync"]


def test_run_passes_until_sigterm(box: Box) -> None:
    box.write_live(BASE)
    box.release_is_live()
    loop = subprocess.Popen(
        [sys.executable, "-m", "gristops", "gitops", "run", "-c", str(box.live), "--interval", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        runs = GitopsRuns(box.state)
        deadline = time.monotonic() + 60
        while len(runs.history()) < 2:
            assert loop.poll() is None and time.monotonic() < deadline, loop.stderr
            time.sleep(0.1)
        loop.send_signal(signal.SIGTERM)
        out, _err = loop.communicate(timeout=60)
    finally:
        loop.kill()
    assert loop.returncode == 0
    assert "every 1 s" in out
    assert {r.trigger for r in runs.history()} == {"poll"}
