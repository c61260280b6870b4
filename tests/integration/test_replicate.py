"""`gristops replicate` with the real Litestream, to a real SeaweedFS and to a directory.

A document is replicated while the real gateway writes to it; then the
primary file is deleted and restored to a point in time between two batches
of writes, and served again.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gristops.backup.replication.metrics import metric_families
from gristops.backup.replication.replicate import (
    replicate_once,
    restore_in_place,
    restore_point_in_time,
)
from gristops.backup.replication.status import ReplicationStatus, read_status
from gristops.config import Config, load_config
from gristops.errors import GristopsError
from gristops.runtime.process import Service
from gristops.state.db import StateDB
from tests.conftest import SHOP_GRIST
from tests.gateway_harness import Gateway, copy_shop, running_gateway, write_config
from tests.support.seaweed import Seaweed, seaweed

pytestmark = pytest.mark.integration
__all__ = ["seaweed"]


def s3_backup(weed: Seaweed, bucket: str) -> str:
    return f"""\
backup:
  targets:
    offsite:
      kind: s3
      endpoint_url: {weed.endpoint}
      bucket: {bucket}
      prefix: site1
      access_key_id: ${{TEST_S3_KEY}}
      secret_access_key: ${{TEST_S3_SECRET}}
      encryption: none
  replicate:
    targets: [offsite]
    sync_interval: 0.2
"""


LOCAL_BACKUP = """\
backup:
  targets:
    disk: {kind: local, path: backups}
  replicate:
    targets: [disk]
    sync_interval: 0.2
"""


@contextmanager
def replicating(root: Path) -> Iterator[Service]:
    """`gristops replicate` (the real CLI) for the config under `root`; always stopped."""
    args = [sys.executable, "-m", "gristops", "replicate", "-c", str(root / "gristops.yaml")]
    service = Service("gristops replicate", [*args, "--interval", "0.3"], log_path=root / "rep.log")
    with service:
        yield service


def wait_for(
    config: Config, ok: Callable[[ReplicationStatus], bool], service: Service
) -> ReplicationStatus:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert service.running(), service.output()
        status = read_status(config)
        if status is not None and status.running and ok(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"replication did not get there:\n{service.output()}")


def caught_up(status: ReplicationStatus) -> bool:
    now = time.time()
    return all(db.txid is not None and status.lag(db, now) == 0 for db in status.databases)


def add_products(gateway: Gateway, token: str, names: list[str]) -> None:
    with gateway.client(headers={"Authorization": f"Bearer {token}"}) as c:
        for name in names:
            r = c.post(
                "/api/docs/Shop/tables/Products/records",
                json={"records": [{"fields": {"name": name, "stock": 1}}]},
            )
            assert r.status_code == 200, r.text


def product_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM Products")}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_point_in_time_restore_after_losing_the_document(
    seaweed: Seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_S3_KEY", seaweed.access_key)
    monkeypatch.setenv("TEST_S3_SECRET", seaweed.secret_key)
    extra = s3_backup(seaweed, seaweed.make_bucket())
    copy_shop(tmp_path)
    with running_gateway(tmp_path, extra) as gateway:
        config = load_config(tmp_path / "gristops.yaml")
        token = gateway.login("admin@shop.test", "Admin!2024")
        with replicating(tmp_path) as service:
            wait_for(config, caught_up, service)
            # Writes through the gateway keep working while Litestream holds its lock.
            add_products(gateway, token, [f"before-{i}" for i in range(5)])
            wait_for(config, caught_up, service)
            time.sleep(1.2)
            between = datetime.now(UTC)
            time.sleep(1.2)
            add_products(gateway, token, [f"after-{i}" for i in range(5)])
            status = wait_for(config, caught_up, service)
            assert {db.name for db in status.databases} == {"Shop", "state.db"}

            shown = cli("replicate", "--status", "--json", "-c", str(tmp_path / "gristops.yaml"))
            assert shown.returncode == 0, shown.stderr
            report = json.loads(shown.stdout)
            assert report["running"] is True
            assert {row["db"]: row["lag_seconds"] for row in report["databases"]}["Shop"] == 0
            families = metric_families(config, StateDB(config.state_path))
            assert {s.labels["db"] for s in families[0].samples} == {"Shop", "state.db"}
            assert families[0].name == "gristops_replication_lag_seconds"

        docs = tmp_path / "data" / "docs"
        for lost in docs.glob("Shop.grist*"):
            lost.unlink()

        earlier = restore_point_in_time(config, "Shop", between, tmp_path / "earlier.grist")
        names = product_names(earlier)
        assert {f"before-{i}" for i in range(5)} <= names
        assert not any(n.startswith("after-") for n in names)

        latest = restore_point_in_time(config, "Shop", None, tmp_path / "latest.grist")
        assert {f"after-{i}" for i in range(5)} <= product_names(latest)

        # Put the point-in-time copy back: the gateway serves it again.
        shutil.move(earlier, docs / "Shop.grist")
        with gateway.client(headers={"Authorization": f"Bearer {token}"}) as c:
            r = c.get("/api/docs/Shop/tables/Products/records")
            assert r.status_code == 200
            served = {rec["fields"]["name"] for rec in r.json()["records"]}
            assert "before-4" in served and "after-0" not in served

    # Stopped: the status says so and lag counts from the last replicated change.
    stopped = cli("replicate", "--status", "--json", "-c", str(tmp_path / "gristops.yaml"))
    assert json.loads(stopped.stdout)["running"] is False


def test_new_documents_are_followed_and_restore_never_overwrites(tmp_path: Path) -> None:
    write_config(tmp_path, LOCAL_BACKUP)
    copy_shop(tmp_path)
    config = load_config(tmp_path / "gristops.yaml")
    StateDB(config.state_path)
    with replicating(tmp_path) as service:
        wait_for(config, caught_up, service)
        shutil.copyfile(SHOP_GRIST, tmp_path / "data/docs/Second.grist")
        status = wait_for(
            config, lambda s: "Second" in {d.name for d in s.databases} and caught_up(s), service
        )
        with pytest.raises(GristopsError, match="must be stopped"):
            restore_in_place(config, "Second", None)
    assert (tmp_path / "data/backups/replication/Second/ltx").is_dir()
    assert {d.name for d in status.databases} == {"Shop", "Second", "state.db"}

    taken = tmp_path / "taken.grist"
    taken.write_bytes(b"mine")
    with pytest.raises(GristopsError, match="already exists"):
        restore_point_in_time(config, "Second", None, taken)
    assert taken.read_bytes() == b"mine"
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(GristopsError, match="holds nothing at or before that time"):
        restore_point_in_time(config, "Second", long_ago, tmp_path / "old.grist")
    restored = restore_point_in_time(config, "state.db", None, tmp_path / "state-copy.db")
    with sqlite3.connect(restored) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)


GRIST_SERVER = "grist: {base_url: 'http://127.0.0.1:9', api_key: not-used, document_id: Shop}\n"


def test_grist_server_documents_must_be_in_wal_mode(tmp_path: Path) -> None:
    server_docs = tmp_path / "grist-data"
    server_docs.mkdir()
    shutil.copyfile(SHOP_GRIST, server_docs / "Shop.grist")
    extra = LOCAL_BACKUP.replace("backup:\n", f"backup:\n  server_data_dir: {server_docs}\n")
    write_config(tmp_path, extra, grist=GRIST_SERVER)
    config_path = str(tmp_path / "gristops.yaml")

    refused = cli("replicate", "--once", "-c", config_path)
    assert refused.returncode != 0
    assert "not in WAL mode: Shop" in refused.stderr
    assert "GRIST_SQLITE_MODE=wal" in refused.stderr
    assert "Traceback" not in refused.stderr

    with sqlite3.connect(server_docs / "Shop.grist") as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    done = cli("replicate", "--once", "--json", "-c", config_path)
    assert done.returncode == 0, done.stderr
    rows = {row["db"]: row for row in json.loads(done.stdout)["databases"]}
    assert rows["Shop"]["txid"] is not None and rows["Shop"]["lag_seconds"] == 0
    assert (tmp_path / "data/backups/replication/Shop/ltx").is_dir()


def test_replication_off_is_one_clear_line(tmp_path: Path) -> None:
    write_config(tmp_path)
    result = cli("replicate", "--status", "-c", str(tmp_path / "gristops.yaml"))
    assert result.returncode != 0
    assert "replication is off" in result.stderr and "backup.replicate.targets" in result.stderr


def add_directly(doc: Path, name: str) -> None:
    with sqlite3.connect(doc, timeout=10) as conn:
        conn.execute("INSERT INTO Products (name) VALUES (?)", (name,))


def test_backup_restore_point_in_time_in_place_and_to_a_directory(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, LOCAL_BACKUP)
    copy_shop(tmp_path)
    doc = tmp_path / "data/docs/Shop.grist"
    config = load_config(config_path)
    replicate_once(config)
    add_directly(doc, "kept-row")
    replicate_once(config)
    time.sleep(1.2)
    between = datetime.now(UTC).isoformat()
    time.sleep(1.2)
    add_directly(doc, "later-row")
    replicate_once(config)

    restore = ("backup", "restore", "--point-in-time", between, "--doc", "Shop")
    copied = cli(*restore, "--to", str(tmp_path / "out"), "--json", "-c", str(config_path))
    assert copied.returncode == 0, copied.stderr
    assert "later-row" in product_names(doc)
    assert "later-row" not in product_names(tmp_path / "out/Shop.grist")

    in_place = cli(*restore, "--yes", "--json", "-c", str(config_path))
    assert in_place.returncode == 0, in_place.stderr
    [placed] = json.loads(in_place.stdout)["files"]
    names = product_names(doc)
    assert "kept-row" in names and "later-row" not in names
    assert "later-row" in product_names(Path(placed["previous"]))

    # Replication goes on from the restored document.
    add_directly(doc, "after-restore")
    replicate_once(config)
    latest = restore_point_in_time(config, "Shop", None, tmp_path / "l.grist")
    assert {"kept-row", "after-restore"} <= product_names(latest)
    assert "later-row" not in product_names(latest)

    unclear = cli(
        "backup", "restore", "--point-in-time", "yesterday", "--doc", "Shop", "-c", str(config_path)
    )
    assert unclear.returncode != 0 and "not an ISO 8601 time" in unclear.stderr
