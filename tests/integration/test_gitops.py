"""`gristops gitops` against real local git repositories, real nginx and real gateway slots.

The repository is a plain local git repository the tests commit into; the
reconciler fetches it by path. Releases are the deploy tests' wheels of the
working tree (one with records answering 500). Commits are signed with real
SSH keys made by ssh-keygen.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gristops.config import load_config
from gristops.deploy import slots
from gristops.deploy.records import SLOTS, DeployRecords
from gristops.deploy.release import load_release
from gristops.deploy.slots import SlotPlace
from gristops.edge.nginx import Nginx
from gristops.gitops.metrics import metric_families
from gristops.gitops.reconcile import PassResult, Reconciler
from gristops.gitops.records import GitopsRuns
from gristops.state.db import StateDB
from tests.conftest import SHOP_GRIST
from tests.integration.test_deploy_bluegreen import FACTORY_WRAP, Traffic, build_wheel, free_port

pytestmark = pytest.mark.integration

ORIGIN = "https://app.example"


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class Env:
    root: Path
    repo: Path
    live: Path
    good: Path
    errors_500: Path
    state: StateDB

    @property
    def edge(self) -> str:
        config = load_config(self.live)
        return f"https://127.0.0.1:{config.edge.https_port}"

    def commit(self, files: dict[str, Any], message: str, *sign: str) -> str:
        """Write `files` (path: YAML data, or None to delete) and commit them."""
        for rel, data in files.items():
            path = self.repo / rel
            if data is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        git(self.repo, "add", "-A")
        git(self.repo, *sign, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.repo, "rev-parse", "HEAD")

    def sync(self) -> PassResult:
        return Reconciler(load_config(self.live), self.state).sync()

    def edit_live(self, change: dict[str, Any]) -> None:
        """A hand edit: merge `change` into the live file's sections."""
        data = yaml.safe_load(self.live.read_text())
        for section, values in change.items():
            data.setdefault(section, {}).update(values)
        self.live.write_text(yaml.safe_dump(data))

    def active_release(self) -> str | None:
        active = DeployRecords(self.state).active()
        return active.release_id if active else None

    def deploys(self) -> int:
        return len(DeployRecords(self.state).history())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("gitops")
    (root / "data" / "docs").mkdir(parents=True)
    shutil.copyfile(SHOP_GRIST, root / "data" / "docs" / "Shop.grist")
    good = build_wheel(root / "r1")
    errors_500 = build_wheel(
        root / "errors",
        {
            "gristops/gateway/app.py": FACTORY_WRAP.format(
                why="records answer 500", prefix="/api/docs/Shop/tables/", status=500
            )
        },
    )
    base = {
        "data_dir": str(root / "data"),
        "grist": {"document_id": "Shop"},
        "server": {"graceful_timeout": 5},
        "edge": {
            "listen_address": "127.0.0.1", "http_port": free_port(),
            "https_port": free_port(), "worker_user": "root",
        },
        "deploy": {
            "port": free_port(), "blue_port": free_port(), "green_port": free_port(),
            "ready_timeout": 30, "system_site_packages": True,  # no release here fails /ready
            # Judged on few requests, and latency left out: the test machine is shared and slow.
            "watch_seconds": 2, "watch_min_requests": 3, "max_p95_seconds": 30,
            "smoke": [{"path": "/health"}, {"path": "/api/docs/Shop/tables", "status": 401}],
        },
    }  # fmt: skip
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    live = root / "etc" / "gristops.yaml"
    live.parent.mkdir()
    gitops = {"repo": str(repo), "environment": "staging", "interval": 5}
    live.write_text(yaml.safe_dump({**base, "gitops": gitops}))
    state = StateDB(root / "data" / "state.db")
    env = Env(root, repo, live, good, errors_500, state)
    env.commit(
        {
            "base/gristops.yaml": base,
            "base/release.yaml": {"path": str(good)},
            "overlays/staging/gristops.yaml": {"log": {"level": "info"}},
        },
        "staging runs release 1",
    )
    try:
        first = env.sync()
        assert first.outcome == "applied", first.reason
        yield env
    finally:
        config = load_config(live)
        # nginx first: a stopping slot waits for nginx to drop its idle pooled connections.
        Nginx(config).stop()
        for name in SLOTS:
            slots.stop(config, SlotPlace.of(config, name))


def test_first_pass_deployed_the_commit_and_writes_the_machine_section_back(env: Env) -> None:
    assert env.active_release() == load_release(env.good).id
    written = yaml.safe_load(env.live.read_text())
    assert written["gitops"]["environment"] == "staging"  # the machine's own, kept
    assert "Written by `gristops gitops`" in env.live.read_text()
    assert env.sync().outcome == "in_sync"


def test_a_config_change_is_live_within_one_poll(env: Env) -> None:
    sha = env.commit(
        {"overlays/staging/gristops.yaml": {"server": {"cors_origins": [ORIGIN]}}},
        "staging allows the app's origin",
    )
    runs = GitopsRuns(env.state)
    stop = threading.Event()
    loop = threading.Thread(
        target=Reconciler(load_config(env.live), env.state).run, args=(stop, 1.0)
    )
    loop.start()
    try:
        deadline = time.monotonic() + 120
        while (last := runs.last()) is None or last.commit_sha != sha:
            assert time.monotonic() < deadline, "no pass took the commit"
            time.sleep(0.2)
    finally:
        stop.set()
        loop.join(120)
    first = [r for r in runs.history(10) if r.commit_sha == sha][-1]
    assert first.outcome == "applied" and first.changes == "config"
    assert "cors_origins" in first.diff
    answer = httpx.get(f"{env.edge}/health", headers={"Origin": ORIGIN}, verify=False)
    assert answer.headers.get("access-control-allow-origin") == ORIGIN


# The order saves installs: the revert goes to the slot that still holds release 1.
def test_a_hand_edit_is_reported_then_reverted_when_configured(env: Env) -> None:
    env.edit_live({"server": {"graceful_timeout": 7}})
    deploys = env.deploys()
    drift = env.sync()
    assert drift.outcome == "drift"
    assert "-  graceful_timeout: 7" in drift.diff and "+  graceful_timeout: 5" in drift.diff
    assert yaml.safe_load(env.live.read_text())["server"]["graceful_timeout"] == 7  # reported
    assert env.deploys() == deploys
    env.edit_live({"gitops": {"revert_drift": True}})  # the machine's own section: not drift
    reverted = env.sync()
    assert reverted.outcome == "reverted", reverted.reason
    written = yaml.safe_load(env.live.read_text())
    assert written["server"]["graceful_timeout"] == 5 and written["gitops"]["revert_drift"]
    assert env.sync().outcome == "in_sync"


def test_malformed_yaml_is_a_clear_error_and_nothing_live_is_touched(env: Env) -> None:
    before, release, deploys = env.live.read_text(), env.active_release(), env.deploys()
    env.commit({"overlays/staging/gristops.yaml": "server:\n  cors_origins: [oops\n"}, "typo")
    result = env.sync()
    assert result.outcome == "failed"
    assert "overlays/staging/gristops.yaml at" in (result.reason or "")
    assert "not valid YAML" in (result.reason or "")
    assert env.live.read_text() == before
    assert (env.active_release(), env.deploys()) == (release, deploys)


def test_a_bad_release_is_rolled_back_reported_and_marked_bad(env: Env) -> None:
    good = env.active_release()
    config_before = env.live.read_text()
    sha = env.commit(
        {
            "overlays/staging/gristops.yaml": {"server": {"cors_origins": [ORIGIN]}},
            "overlays/staging/release.yaml": {"path": str(env.errors_500)},
        },
        "staging tries a release whose records answer 500",
    )
    with Traffic(env.edge, clients=2, expected=frozenset({200, 401, 500})):
        result = env.sync()
    assert result.outcome == "rolled_back" and result.bad
    assert "error rate" in (result.reason or "")
    assert env.active_release() == good
    assert env.live.read_text() == config_before
    # Not retried: the pass holds the last good commit until a newer one arrives.
    deploys = env.deploys()
    again = env.sync()
    assert again.head == sha and again.head_bad and again.commit != sha
    assert again.outcome == "in_sync"
    assert env.deploys() == deploys
    gauges = {f.name: f.samples[0].value for f in metric_families(load_config(env.live), env.state)}
    assert gauges["gristops_gitops_bad_commit"] == 1.0


def test_a_commit_without_a_good_signature_is_refused(env: Env) -> None:
    keys = env.root / "keys"
    keys.mkdir()
    for name in ("trusted", "stranger"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(keys / name)],
            check=True,
        )
    trusted = (keys / "trusted.pub").read_text().strip()
    (keys / "allowed_signers").write_text(f"tester@example.com {trusted}\n")
    env.edit_live({"gitops": {"allowed_signers": str(keys / "allowed_signers")}})
    before, deploys = env.live.read_text(), env.deploys()

    def signed(key: str) -> tuple[str, ...]:
        return ("-c", "gpg.format=ssh", "-c", f"user.signingkey={keys / key}", "-c",
                "commit.gpgsign=true")  # fmt: skip

    env.commit({"overlays/staging/release.yaml": None}, "unsigned")
    unsigned = env.sync()
    env.commit({}, "signed by a stranger", *signed("stranger"))
    stranger = env.sync()
    for result in (unsigned, stranger):
        assert result.outcome == "refused", result.reason
        assert "no good signature" in (result.reason or "")
    assert env.live.read_text() == before and env.deploys() == deploys
    env.commit({}, "signed by a trusted key", *signed("trusted"))
    assert env.sync().outcome == "in_sync"
