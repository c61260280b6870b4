"""Blue-green deploy benchmark: switch time, rollback time, failed requests, nginx overhead.

Run: python bench/deploy.py [--deploys 10] [--clients 20]
Real nginx and real slot processes on 127.0.0.1; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gristops.config import load_config  # noqa: E402
from gristops.deploy import slots  # noqa: E402
from gristops.deploy.deployer import Deployer  # noqa: E402
from gristops.deploy.records import SLOTS, DeployRecords  # noqa: E402
from gristops.deploy.release import load_release  # noqa: E402
from gristops.deploy.slots import SlotPlace  # noqa: E402
from gristops.edge.nginx import Nginx  # noqa: E402
from gristops.state.db import StateDB  # noqa: E402
from tests.conftest import SHOP_GRIST  # noqa: E402
from tests.integration.test_deploy_bluegreen import build_wheel, free_port  # noqa: E402


class Load:
    """`clients` keep-alive clients in a bounded loop; counts failures and reset retries."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.ok = self.failed = self.retried = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def loop(self) -> None:
        with httpx.Client(verify=False, timeout=10.0) as client:
            for _ in range(1_000_000):
                if self.stop.is_set():
                    return
                outcome = "ok"
                try:
                    try:
                        status = client.get(f"{self.base}/health").status_code
                    except httpx.RemoteProtocolError:
                        outcome = "retried"
                        status = client.get(f"{self.base}/health").status_code
                    if status != 200:
                        outcome = "failed"
                except httpx.HTTPError:
                    outcome = "failed"
                with self.lock:
                    if outcome == "failed":
                        self.failed += 1
                    else:
                        self.ok += 1
                        self.retried += outcome == "retried"

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self.loop) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def latency(url: str, n: int) -> float:
    """Median seconds of `n` sequential GETs on one kept-alive connection."""
    times = []
    with httpx.Client(verify=False) as client:
        client.get(url)
        for _ in range(n):
            start = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gristops-bench-deploy-"))
    (root / "data" / "docs").mkdir(parents=True)
    shutil.copyfile(SHOP_GRIST, root / "data" / "docs" / "Shop.grist")
    settings = {
        "data_dir": str(root / "data"),
        "grist": {"document_id": "Shop"},
        "server": {"graceful_timeout": 5},
        "edge": {"listen_address": "127.0.0.1", "http_port": free_port(),
                 "https_port": free_port(), "worker_user": "root"},
        "deploy": {"blue_port": free_port(), "green_port": free_port(), "watch_seconds": 1,
                   "system_site_packages": True},
    }  # fmt: skip
    (root / "gristops.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(root / "gristops.yaml")
    deployer = Deployer(config, StateDB(config.state_path))
    releases = [
        load_release(build_wheel(root / "r1")),
        load_release(build_wheel(root / "r2", {"gristops/__init__.py": "\n# r2\n"})),
    ]
    edge = f"https://127.0.0.1:{config.edge.https_port}"
    try:
        first = deployer.deploy(releases[0], actor="bench")
        switch_times, outcomes = [], []
        with Load(edge, args.clients) as load:
            for n in range(args.deploys):
                result = deployer.deploy(releases[(n + 1) % 2], actor="bench")
                outcomes.append(result.outcome)
                switch_times.append(result.seconds_to_switch or 0.0)
        start = time.perf_counter()
        rolled = deployer.rollback(actor="bench")
        rollback_seconds = time.perf_counter() - start
        active = DeployRecords(deployer.records.state).active()
        assert active is not None
        direct = latency(SlotPlace.of(config, active.slot).url("/health"), 500)
        through = latency(f"{edge}/health", 500)
        print(
            json.dumps(
                {
                    "first_deploy_to_switch_s": round(first.seconds_to_switch or 0.0, 2),
                    "install_deploys_to_switch_s": [round(t, 2) for t in switch_times[:1]],
                    "warm_deploys_to_switch_median_s": round(
                        statistics.median(switch_times[1:] or [0.0]), 3
                    ),
                    "deploys": args.deploys,
                    "outcomes": outcomes,
                    "clients": args.clients,
                    "requests_ok": load.ok,
                    "requests_failed": load.failed,
                    "requests_retried_after_keepalive_close": load.retried,
                    "rollback_s": round(rollback_seconds, 3),
                    "rollback_outcome": rolled.outcome,
                    "health_direct_median_ms": round(direct * 1000, 3),
                    "health_via_nginx_median_ms": round(through * 1000, 3),
                    "nginx_latency_ratio": round(through / direct, 2),
                },
                indent=2,
            )
        )
    finally:
        for name in SLOTS:
            slots.stop(config, SlotPlace.of(config, name))
        Nginx(config).stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
