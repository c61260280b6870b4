"""Replication lag under steady writes: the gateway writes, Litestream ships, the replica is read.

    python bench/replication.py [--seconds 30] [--rate 50] [--replica s3|file] [--sync 1.0]

One client writes one record per request through the real gateway at a
steady rate while `gristops replicate` runs (Litestream to a real SeaweedFS,
or to a directory). A sampler restores the newest replicated state over and
over; a write's lag is the time from its 200 response to the end of the
first restore that holds it (an upper bound: it includes the restore
itself). The lag gauge (`gristops_replication_lag_seconds`) is sampled too.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gristops.backup.replication.replicate import restore_point_in_time  # noqa: E402
from gristops.backup.replication.status import read_status  # noqa: E402
from gristops.config import load_config  # noqa: E402
from gristops.runtime.process import Service  # noqa: E402
from tests.gateway_harness import copy_shop, running_gateway  # noqa: E402
from tests.support.seaweed import running_seaweed  # noqa: E402


def backup_yaml(kind: str, sync: float, endpoint: str = "", bucket: str = "") -> str:
    if kind == "file":
        target = "    replica: {kind: local, path: replica}\n"
    else:
        target = (
            f"    replica: {{kind: s3, endpoint_url: '{endpoint}', bucket: {bucket}, "
            "access_key_id: '${BENCH_S3_KEY}', secret_access_key: '${BENCH_S3_SECRET}', "
            "encryption: none}\n"
        )
    return (
        f"backup:\n  targets:\n{target}  replicate: {{targets: [replica], sync_interval: {sync}}}\n"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(root: Path, extra: str, seconds: float, rate: float) -> None:
    copy_shop(root)
    with running_gateway(root, extra) as gateway:
        config = load_config(root / "gristops.yaml")
        args = [sys.executable, "-m", "gristops", "replicate", "-c", str(root / "gristops.yaml")]
        replicate = Service("replicate", [*args, "--interval", "0.5"], log_path=root / "rep.log")
        with replicate:
            while (status := read_status(config)) is None or not all(
                db.txid is not None for db in status.databases
            ):
                time.sleep(0.1)
            token = gateway.login("admin@shop.test", "Admin!2024")
            acked: dict[int, float] = {}
            lags: dict[int, float] = {}
            gauge: list[float] = []
            errors = 0
            done = threading.Event()

            def sample() -> None:
                n = 0
                while not done.is_set() or len(lags) < len(acked):
                    n += 1
                    out = root / f"sample-{n}.grist"
                    restore_point_in_time(config, "Shop", None, out)
                    finished = time.time()
                    with sqlite3.connect(out) as conn:
                        held = conn.execute(
                            "SELECT name FROM Products WHERE name LIKE 'bench-%'"
                        ).fetchall()
                    out.unlink()
                    for (name,) in held:
                        i = int(name.removeprefix("bench-"))
                        if i in acked and i not in lags:
                            lags[i] = finished - acked[i]
                    current = read_status(config)
                    if current is not None:
                        now = time.time()
                        gauge.extend(current.lag(db, now) for db in current.databases)
                    if done.is_set() and time.time() - stop_at > 30:
                        return

            stop_at = float("inf")
            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            with gateway.client(headers={"Authorization": f"Bearer {token}"}) as c:
                i = 0
                while (elapsed := time.monotonic() - started) < seconds:
                    due = started + i / rate
                    if due > time.monotonic():
                        time.sleep(due - time.monotonic())
                    r = c.post(
                        "/api/docs/Shop/tables/Products/records",
                        json={"records": [{"fields": {"name": f"bench-{i}"}}]},
                    )
                    if r.status_code == 200:
                        acked[i] = time.time()
                    else:
                        errors += 1
                    i += 1
            stop_at = time.time()
            done.set()
            sampler.join()
    values = list(lags.values())
    print(f"writes: {len(acked)} ok, {errors} failed, {len(acked) / elapsed:.1f}/s achieved")
    if values:
        print(
            f"write -> replica lag (s): p50 {statistics.median(values):.2f}  "
            f"p95 {percentile(values, 0.95):.2f}  max {max(values):.2f}  "
            f"({len(values)} of {len(acked)} writes seen in the replica)"
        )
    if gauge:
        print(
            f"gauge gristops_replication_lag_seconds: p95 {percentile(gauge, 0.95):.2f}  "
            f"max {max(gauge):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50, help="writes per second")
    parser.add_argument("--replica", choices=("s3", "file"), default="s3")
    parser.add_argument("--sync", type=float, default=1.0, help="Litestream sync interval (s)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replication-") as tmp:
        root = Path(tmp)
        if options.replica == "file":
            measure(root / "site", backup_yaml("file", options.sync), options.seconds, options.rate)
            return
        with running_seaweed(root / "seaweed") as weed:
            os.environ["BENCH_S3_KEY"] = weed.access_key
            os.environ["BENCH_S3_SECRET"] = weed.secret_key
            extra = backup_yaml("s3", options.sync, weed.endpoint, weed.make_bucket())
            measure(root / "site", extra, options.seconds, options.rate)


if __name__ == "__main__":
    main()
