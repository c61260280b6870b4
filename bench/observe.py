"""Observability overhead: gateway throughput with metrics and logging on against off, and scrape time.

    python bench/observe.py [--seconds 5] [--rounds 2] [--clients 20]

(a) GET /api/docs/Shop/tables/Products/records with wrk against two real
    gateways side by side: "on" is the gateway as it runs in production
    (request metrics, one JSON access-log line per request at level info, the
    ops collector and the store probe); "off" has the request middleware
    removed and the log level at warning (there is no config switch for
    metrics, so the bench builds that app itself). Runs alternate on/off so
    drift hits both; the ratio on/off is the figure.
(b) the same two apps driven in this process through httpx's ASGI transport,
    one request at a time: CPU time per request (process time, best of
    several repeats), which a busy machine disturbs far less than (a).
(c) GET /metrics on the "on" gateway with 50 routes x 5 statuses populated
    (plus their latency histograms): time per scrape and exposition size.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import REPORT_LUA, result, wrk  # noqa: E402
from gristops.gateway.app import app_factory  # noqa: E402
from gristops.gateway.middleware import RequestContextMiddleware  # noqa: E402
from gristops.runtime.process import Service  # noqa: E402
from tests.gateway_harness import ROLES, copy_shop, free_port  # noqa: E402

PATH = "/api/docs/Shop/tables/Products/records"
ROUTES, STATUSES = 50, ("200", "201", "400", "404", "500")


def app_on() -> FastAPI:
    """The gateway with every metric, the ops collector and the store probe."""
    app = app_factory()
    if os.environ.get("BENCH_POPULATE"):
        metrics = app.state.ctx.metrics
        for i in range(ROUTES):
            route = f"/bench/route/{i}/{{id}}"
            for status in STATUSES:
                metrics.requests.labels("GET", route, status).inc(i + 1)
            metrics.request_duration.labels("GET", route).observe(0.01 * (i % 7))
    return app


def app_off() -> FastAPI:
    """The same gateway without the request middleware (no request metrics, no access log)."""
    app = app_factory()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestContextMiddleware]
    return app


def write_config(root: Path, name: str, level: str) -> Path:
    folder = root / name
    copy_shop(folder)
    config = folder / "gristops.yaml"
    config.write_text(
        f"data_dir: data\ngrist: {{document_id: Shop}}\n{ROLES}log: {{level: {level}}}\n"
    )
    return config


def start(root: Path, name: str, factory: str, level: str) -> tuple[Service, str]:
    config = write_config(root, name, level)
    folder = config.parent
    port = free_port()
    service = Service(
        name,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"bench.observe:{factory}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        log_path=folder / "gateway.log",
        env={"GRISTOPS_CONFIG": str(config), "BENCH_POPULATE": "1"},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200

    service.start(ready, timeout=30)
    return service, url


def token(url: str) -> str:
    r = httpx.post(f"{url}/auth/login", json={"email": "admin@shop.test", "password": "Admin!2024"})
    r.raise_for_status()
    return str(r.json()["access_token"])


async def asgi_rate(app: FastAPI, requests: int = 300, repeats: int = 7) -> float:
    """Requests per CPU second of one client on the app in this process, best of `repeats`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        login = {"email": "admin@shop.test", "password": "Admin!2024"}
        r = await client.post("/auth/login", json=login)
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        best = math.inf
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(requests):
                (await client.get(PATH, headers=auth)).raise_for_status()
            best = min(best, time.process_time() - start)
    return requests / best


def in_process(root: Path) -> dict[str, float]:
    """(b): both apps built here; the access log goes to a file, as under systemd it goes to journald."""
    rates = {}
    stderr = sys.stderr
    with (root / "in-process.log").open("w") as log:
        sys.stderr = log
        try:
            for name, factory, level in (("on", app_on, "info"), ("off", app_off, "warning")):
                os.environ["GRISTOPS_CONFIG"] = str(write_config(root, f"asgi-{name}", level))
                rates[name] = asyncio.run(asgi_rate(factory()))
        finally:
            sys.stderr = stderr
    return rates


def scrape_times(url: str, count: int) -> tuple[list[float], int]:
    times, size = [], 0
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(count):
            start = time.perf_counter()
            body = client.get("/metrics").content
            times.append((time.perf_counter() - start) * 1000)
            size = len(body)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/observe.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report = root / "report.lua"
        report.write_text(REPORT_LUA)
        on, on_url = start(root, "on", "app_on", "info")
        off, off_url = start(root, "off", "app_off", "warning")
        with on, off:
            runs: dict[str, list[float]] = {"on": [], "off": []}
            print(f"GET {PATH}, {args.clients} clients, {args.seconds:.0f} s per run, load by wrk")
            for round_ in range(args.rounds):
                for name, url in (("on", on_url), ("off", off_url)):
                    auth = {"Authorization": f"Bearer {token(url)}"}
                    r = result(wrk(url + PATH, args.clients, args.seconds, report, auth))
                    runs[name].append(r["rps"])
                    print(
                        f"  round {round_ + 1} metrics+logging {name:<3} {r['rps']:7.0f} req/s"
                        f"  p95 {r['p95_ms']:6.1f} ms  errors {int(r['errors'])}"
                    )
            median = statistics.median(runs["on"]) / statistics.median(runs["off"])
            best = max(runs["on"]) / max(runs["off"])
            print(f"(a) throughput on/off: {median:.2f} (medians), {best:.2f} (best runs)")
            times, size = scrape_times(on_url, 200)
            times.sort()
            rates = in_process(root)
            print(
                f"(b) in process, per CPU second: on {rates['on']:.0f} req, off {rates['off']:.0f} req,"
                f" ratio {rates['on'] / rates['off']:.2f},"
                f" {1e6 / rates['on'] - 1e6 / rates['off']:.0f} us per request"
            )
            print(
                f"(c) /metrics with {ROUTES} routes x {len(STATUSES)} statuses: "
                f"p50 {times[len(times) // 2]:.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
                f"{size / 1024:.0f} KiB"
            )


if __name__ == "__main__":
    main()
