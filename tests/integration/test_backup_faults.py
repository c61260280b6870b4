"""Backups under faults: a full disk, kill -9 mid-backup and mid-restore, a restore onto a
running gateway."""

from __future__ import annotations

import errno
import hashlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gristops.backup.configured_archives import open_archive
from gristops.backup.crypto import Keys
from gristops.backup.restore import restore_snapshot
from gristops.backup.run import run_backup
from gristops.backup.targets import local
from gristops.backup.verify import verify_snapshot
from gristops.config import load_config
from gristops.config.backup import LocalTargetConfig
from gristops.state.db import StateDB
from tests.gateway_harness import copy_shop, running_gateway
from tests.integration.backup_support import cli_json, grow, install, spawn

pytestmark = pytest.mark.integration

ENCRYPTED = "backup: {encryption: {passphrase: '${GRISTOPS_BACKUP_PASSPHRASE}'}}\n"
SMALL_DISK_BYTES = 2 << 20


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuotaTarget(local.LocalTarget):
    """Stand-in for a small filesystem, used only when tmpfs cannot be mounted (mounting
    needs root, which CI may lack): fails with ENOSPC past a byte quota, as a full disk does."""

    def __init__(self, name: str, root: Path, quota: int) -> None:
        super().__init__(name, root)
        self.left = quota

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.left:
            raise self._error("write", key, OSError(errno.ENOSPC, "No space left on device"))
        self.left -= len(data)
        super().put(key, data)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 2 MB filesystem (tmpfs), or the quota stand-in when mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_BYTES}", "tmpfs", str(mount)],
            capture_output=True,
        ).returncode
        == 0
    )
    if not mounted:
        real = local.create

        def create(name: str, config: LocalTargetConfig, data_dir: Path) -> local.LocalTarget:
            target = real(name, config, data_dir)
            return QuotaTarget(name, target.root, SMALL_DISK_BYTES) if name == "small" else target

        monkeypatch.setattr(local, "create", create)
    try:
        yield mount
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_that_target_cleanly_and_keeps_older_snapshots(
    tmp_path: Path, small_disk: Path
) -> None:
    extra = (
        "backup:\n  targets:\n"
        f"    small: {{kind: local, path: {small_disk}/archive}}\n"
        "    big: {kind: local, path: backups}\n"
    )
    config = load_config(install(tmp_path, extra))
    state = StateDB(config.state_path)
    first = run_backup(config, state)
    assert first.ok
    grow(config.docs_dir / "Shop.grist", 4)  # incompressible: cannot fit in 2 MB
    second = run_backup(config, state)
    outcome = {o.target: o for o in second.outcomes}
    assert outcome["big"].ok and not outcome["small"].ok
    assert "no space left" in outcome["small"].error
    small = open_archive(config, Keys.from_config(config.backup), "small")
    assert small.snapshot_ids() == [first.snapshot_id]
    assert verify_snapshot(config, state, small, first.snapshot_id).ok


def _kill_when(process: subprocess.Popen[bytes], ready: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline, "the command never reached the point to kill it"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_9_during_a_backup_lists_no_new_snapshot_and_touches_nothing(
    tmp_path: Path,
) -> None:
    config = install(tmp_path, ENCRYPTED, filler_mb=48)
    first = cli_json(config, "run")["snapshot"]
    doc = tmp_path / "data" / "docs" / "Shop.grist"
    grow(doc, 24)
    before = _sha(doc)
    chunks = tmp_path / "data" / "backups" / "chunks"
    known = sum(1 for _ in chunks.rglob("*"))
    process = spawn(config, "run")
    _kill_when(process, lambda: sum(1 for _ in chunks.rglob("*")) > known + 2)
    assert process.returncode == -signal.SIGKILL
    assert [r["id"] for r in cli_json(config, "list")] == [first]
    assert _sha(doc) == before
    assert cli_json(config, "verify", first)[0]["ok"]
    assert cli_json(config, "run")["ok"]  # the lock died with the process


def test_kill_9_during_a_restore_leaves_the_live_document_untouched(tmp_path: Path) -> None:
    config = install(tmp_path, ENCRYPTED, filler_mb=64)
    snapshot = cli_json(config, "run")["snapshot"]
    doc = tmp_path / "data" / "docs" / "Shop.grist"
    grow(doc, 1)
    before = _sha(doc)
    work = tmp_path / "data" / "backup-work"
    process = spawn(config, "restore", snapshot, "--yes")

    def half_restored() -> bool:
        return any(p.stat().st_size > 8 << 20 for p in work.rglob("*.grist") if p.is_file())

    _kill_when(process, half_restored)
    assert process.returncode == -signal.SIGKILL
    assert _sha(doc) == before
    restored = cli_json(config, "restore", snapshot, "--yes")
    assert restored["files"][0]["previous"].endswith("Shop.grist.pre-restore")
    assert not any(work.iterdir())  # the killed run's scratch files were cleaned up


def test_a_restore_onto_a_running_gateway_never_serves_half_a_document(tmp_path: Path) -> None:
    copy_shop(tmp_path)
    with running_gateway(tmp_path) as gateway:
        config = load_config(tmp_path / "gristops.yaml")
        state = StateDB(config.state_path)
        archive = open_archive(config, Keys.from_config(config.backup), "local")
        old = run_backup(config, state).snapshot_id
        auth = {"Authorization": f"Bearer {gateway.login('admin@shop.test', 'Admin!2024')}"}
        url = "/api/docs/Shop/tables/Products/records"
        with gateway.client(headers=auth) as c:
            old_count = len(c.get(url).json()["records"])
            added = c.post(
                url, json={"records": [{"fields": {"name": f"n{i}"}} for i in range(50)]}
            )
            assert added.status_code == 200, added.text
        new = run_backup(config, state).snapshot_id
        seen: list[tuple[int, int]] = []
        stop = threading.Event()

        def read() -> None:
            with gateway.client(headers=auth) as c:
                while not stop.is_set():
                    r = c.get(url)
                    seen.append((r.status_code, len(r.json().get("records", []))))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for t in readers:
            t.start()
        try:
            deadline = time.monotonic() + 30
            while len(seen) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)  # the readers are reading before the first swap
            for i in range(6):
                restore_snapshot(config, state, archive, old if i % 2 == 0 else new)
        finally:
            stop.set()
            for t in readers:
                t.join()
        assert seen and all(status == 200 for status, _ in seen), seen[:5]
        assert {n for _, n in seen} <= {old_count, old_count + 50}
        with gateway.client(headers=auth) as c:
            assert len(c.get(url).json()["records"]) == old_count + 50
        with httpx.Client() as c:
            assert c.get(f"{gateway.url}/health").status_code == 200
