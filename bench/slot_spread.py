"""How a live deploy slot's workers share nginx's traffic on the shared socket.

    python bench/slot_spread.py [--seconds 10] [--clients 20,100] [--workers 2]

A real `gristops serve` in slot mode (the shared upstream socket inherited, as a
slot's supervisor starts it) with `--workers` workers, live, behind the real
nginx edge over TLS; wrk reads a cached record list through nginx. For each
client count it prints each worker's share of the requests (from the workers'
own metrics files), nginx's connections to the slot per worker (ss), the
throughput and p99, and the same for the workers' own slot port, where each
worker has its own socket (the kernel spreads connections there), as the
baseline. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import ADMIN, REPORT_LUA, connections_per_process, result, wrk  # noqa: E402
from gristops.deploy.handover import bind, set_live  # noqa: E402
from gristops.deploy.slots import SlotPlace  # noqa: E402
from gristops.edge.nginx import Nginx  # noqa: E402
from gristops.edge.render import render  # noqa: E402
from gristops.runtime import pids  # noqa: E402
from tests.gateway_harness import copy_shop, free_port, start_slot_gateway, write_config  # noqa: E402
from tests.support.edge import loopback_edge  # noqa: E402

RECORDS = "/api/docs/Shop/tables/Products/records"


def per_worker(run_dir: Path) -> dict[int, float]:
    """Reads of RECORDS each worker counted, from its own metrics file."""
    counts = {}
    for path in (run_dir / "metrics").glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[int(path.stem.rsplit("_", 1)[1])] = sum(
            s.value
            for family in merged
            for s in family.samples
            if s.name == "gristops_http_requests_total"
            and s.labels.get("route", "").endswith("/records")
        )
    return counts


def measure(
    url: str, port: int, clients: int, seconds: float, report: Path, token: str, run_dir: Path
) -> str:
    before = per_worker(run_dir)
    process = wrk(url + RECORDS, clients, seconds, report, {"Authorization": f"Bearer {token}"})
    time.sleep(min(1.0, seconds / 2))
    connections = connections_per_process(str(port))
    figures = result(process)
    time.sleep(1)
    after = per_worker(run_dir)
    shares = sorted((after[p] - before.get(p, 0) for p in after), reverse=True)
    total = sum(shares) or 1
    return (
        f"{figures['rps']:7.0f} req/s  p99 {figures['p99_ms']:6.1f} ms  requests per worker "
        + "/".join(f"{s / total:.0%}" for s in shares)
        + f"  connections per worker {'/'.join(map(str, connections)) or '-'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="20,100")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        copy_shop(root)
        config = write_config(root, f"server: {{workers: {args.workers}}}\n")
        shared = bind(0)
        stack.callback(shared.close)
        place = SlotPlace("blue", root / "slot", free_port())
        place.root.mkdir()
        serve = start_slot_gateway(root, config, place, shared)
        stack.callback(serve.wait, 60)
        stack.callback(serve.send_signal, signal.SIGTERM)
        pids.write_pid(place.serve_pid, serve.pid)
        while len(list(place.root.glob("accepting.*"))) < args.workers:
            assert serve.poll() is None, (root / "serve.log").read_text()
            time.sleep(0.1)
        set_live(place, True, timeout=30)
        shared_port = shared.getsockname()[1]
        edge = loopback_edge(root / "edge", worker_processes=1)
        nginx = Nginx(edge)
        nginx.apply(render(edge, upstream_port=shared_port, web_root=None))
        nginx.start()
        stack.callback(nginx.stop)
        edge_url = f"https://127.0.0.1:{edge.edge.https_port}"
        login = dict(zip(("email", "password"), ADMIN, strict=True))
        token = httpx.post(edge_url + "/auth/login", json=login, verify=False).json()
        token = token["access_token"]
        report = root / "report.lua"
        report.write_text(REPORT_LUA)
        run_dir = root / "data" / "run" / f"gateway-{serve.pid}"
        time.sleep(1)
        print(
            f"slot with {args.workers} workers, {os.cpu_count()} CPUs, load average"
            f" {os.getloadavg()[0]:.1f}; wrk {args.seconds:g} s per run"
        )
        for clients in (int(c) for c in args.clients.split(",")):
            through = measure(edge_url, shared_port, clients, args.seconds, report, token, run_dir)
            print(f"  nginx -> shared socket, {clients:>3} clients: {through}")
            direct = measure(
                f"http://127.0.0.1:{place.port}", place.port, clients, args.seconds, report,
                token, run_dir,
            )  # fmt: skip
            print(f"  wrk -> own sockets,     {clients:>3} clients: {direct}")


if __name__ == "__main__":
    main()
