"""Blue-green deploy benchmark: what clients see across deploys and across nginx reloads.

Run: python bench/deploy.py [--deploys 10] [--reloads 10] [--clients 20]
Real nginx and real slot processes on 127.0.0.1; prints one JSON object.

Two kinds of keep-alive clients run through nginx the whole time, half each:
- strict clients never retry (many app HTTP clients; a POST is never retried):
  every transport error or unexpected status is a failed request;
- browser-like clients retry a request once when the server closed a kept-alive
  connection under it (RFC 9112 9.3.1): each retry is a request that would have
  failed for a strict client.
Each client sends GET /health, GET and POST a records path (401 without a token).
Phase "deploys": `--deploys` deploys alternating two releases, then a rollback.
Phase "reloads": `--reloads` plain nginx reloads (as after a config change or a
renewed certificate), the baseline the deploy path is compared with.
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
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gristops.config import load_config  # noqa: E402
from gristops.deploy import slots  # noqa: E402
from gristops.deploy.deployer import Deployer  # noqa: E402
from gristops.deploy.records import SLOTS  # noqa: E402
from gristops.deploy.release import load_release  # noqa: E402
from gristops.deploy.slots import SlotPlace  # noqa: E402
from gristops.edge.nginx import Nginx  # noqa: E402
from gristops.observe.logging import configure_logging  # noqa: E402
from gristops.runtime import pids  # noqa: E402
from gristops.state.db import StateDB  # noqa: E402
from tests.conftest import SHOP_GRIST  # noqa: E402
from tests.integration.test_deploy_bluegreen import REQUESTS, build_wheel, free_port  # noqa: E402

BODY = {"records": [{"fields": {"Name": "bench"}}]}
EXPECTED = frozenset({200, 401})


class Load:
    """`clients` keep-alive clients in bounded loops; counts per phase."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.phase = "warmup"
        self.counts: dict[str, dict[str, int]] = {}
        self.examples: dict[str, list[str]] = {}

    def _count(self, what: str, example: str = "") -> None:
        with self.lock:
            phase = self.counts.setdefault(self.phase, {})
            phase[what] = phase.get(what, 0) + 1
            if example and len(self.examples.setdefault(self.phase, [])) < 5:
                self.examples[self.phase].append(example)

    def _send(self, client: httpx.Client, method: str, path: str, retry: bool) -> None:
        body = BODY if method == "POST" else None
        try:
            try:
                status = client.request(method, f"{self.base}{path}", json=body).status_code
            except httpx.RemoteProtocolError:
                if not retry:
                    raise
                self._count("browser_retries")
                status = client.request(method, f"{self.base}{path}", json=body).status_code
        except httpx.HTTPError as exc:
            kind = "browser" if retry else "strict"
            self._count(f"{kind}_failed", f"{method} {path}: {type(exc).__name__}: {exc}")
            return
        if status not in EXPECTED:
            self._count(f"{'browser' if retry else 'strict'}_failed", f"{method} {path}: {status}")
            return
        self._count("strict_ok" if not retry else "browser_ok")

    def loop(self, retry: bool) -> None:
        with httpx.Client(verify=False, timeout=10.0) as client:
            for _ in range(1_000_000):
                if self.stop.is_set():
                    return
                for method, path in REQUESTS:
                    self._send(client, method, path, retry)

    def __enter__(self) -> Load:
        self.threads = [
            threading.Thread(target=self.loop, args=(n % 2 == 1,)) for n in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def report(self, phase: str) -> dict[str, Any]:
        counts = self.counts.get(phase, {})
        return {
            "strict_requests": counts.get("strict_ok", 0) + counts.get("strict_failed", 0),
            "strict_failed": counts.get("strict_failed", 0),
            "browser_requests": counts.get("browser_ok", 0) + counts.get("browser_failed", 0),
            "browser_retries": counts.get("browser_retries", 0),
            "browser_failed": counts.get("browser_failed", 0),
            "failure_examples": self.examples.get(phase, []),
        }


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=10)
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    configure_logging()  # to stderr: stdout is the JSON report
    root = Path(tempfile.mkdtemp(prefix="gristops-bench-deploy-"))
    (root / "data" / "docs").mkdir(parents=True)
    shutil.copyfile(SHOP_GRIST, root / "data" / "docs" / "Shop.grist")
    settings = {
        "data_dir": str(root / "data"),
        "grist": {"document_id": "Shop"},
        "server": {"graceful_timeout": 5},
        "edge": {"listen_address": "127.0.0.1", "http_port": free_port(),
                 "https_port": free_port(), "worker_user": "root"},
        "deploy": {"port": free_port(), "blue_port": free_port(), "green_port": free_port(),
                   "watch_seconds": 1, "ready_timeout": 30, "system_site_packages": True},
    }  # fmt: skip
    (root / "gristops.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(root / "gristops.yaml")
    deployer = Deployer(config, StateDB(config.state_path))
    releases = [
        load_release(build_wheel(root / "r1")),
        load_release(build_wheel(root / "r2", {"gristops/__init__.py": "\n# r2\n"})),
    ]
    edge = f"https://127.0.0.1:{config.edge.https_port}"
    nginx = Nginx(config)
    try:
        first = deployer.deploy(releases[0], actor="bench")
        assert first.outcome == "success", first.reason
        master = nginx.pid()
        assert master is not None
        switch_times: list[float] = []
        outcomes: list[str] = []
        with Load(edge, args.clients) as load:
            time.sleep(2)  # every client has its connection before the first switch
            workers = pids.children(master)
            load.phase = "deploys"
            for n in range(args.deploys):
                result = deployer.deploy(releases[(n + 1) % 2], actor="bench")
                outcomes.append(result.outcome)
                switch_times.append(result.switch_seconds or 0.0)
            rolled = deployer.rollback(actor="bench")
            switch_times.append(rolled.switch_seconds or 0.0)
            outcomes.append(f"rollback:{rolled.outcome}")
            reloaded_during_deploys = pids.children(master) != workers
            time.sleep(2)
            load.phase = "reloads"
            reload_times = []
            for _ in range(args.reloads):
                start = time.perf_counter()
                nginx.reload()  # returns once only the new workers accept
                reload_times.append(time.perf_counter() - start)
                time.sleep(1)
            load.phase = "after"
        print(
            json.dumps(
                {
                    "clients": args.clients,
                    "deploy_path": {
                        "deploys": args.deploys,
                        "outcomes": outcomes,
                        "nginx_reloaded": reloaded_during_deploys,
                        "switch": _ms(switch_times),
                        **load.report("deploys"),
                    },
                    "plain_reloads": {
                        "reloads": args.reloads,
                        "reload": _ms(reload_times),
                        **load.report("reloads"),
                    },
                },
                indent=2,
            )
        )
    finally:
        for name in SLOTS:
            slots.stop(config, SlotPlace.of(config, name))
        nginx.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
