"""Gateway benchmark: reads through the gateway on the embedded store against a bare endpoint.

    python bench/gateway.py [--seconds 10] [--clients 20,100]

(a) GET 100 records of a 10,000-row table with a filter and a sort, N
    concurrent clients: requests/s and p50/p95/p99, and the ratio to a bare
    FastAPI + uvicorn endpoint answering the same pre-built JSON in this run;
(b) the same reads while 5 clients log in continuously (bcrypt cost 12);
(c) the gateway's resident memory.

Both servers are real uvicorn processes on 127.0.0.1; the load comes from
this process (httpx, asyncio). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import SHOP_GRIST  # noqa: E402
from tests.gateway_harness import free_port, running_gateway  # noqa: E402

ROWS = 10_000
QUERY = {
    "filter": json.dumps({"kind": ["view", "click", "cart"]}),
    "sort": "-amount,seq",
    "limit": "100",
}
PATH = "/api/docs/Shop/tables/Events/records"
ADMIN = ("admin@shop.test", "Admin!2024")
LOGIN_USERS = 5


def make_document(root: Path) -> None:
    """Shop.grist with Events grown to 10,000 rows and five extra login users."""
    docs = root / "data" / "docs"
    docs.mkdir(parents=True)
    path = docs / "Shop.grist"
    shutil.copyfile(SHOP_GRIST, path)
    kinds = ["view", "click", "cart", "purchase", "refund"]
    hashed = bcrypt.hashpw(b"bench-password-1", bcrypt.gensalt(12)).decode()
    with sqlite3.connect(path) as db:
        start = db.execute("SELECT max(id) FROM Events").fetchone()[0] + 1
        db.executemany(
            "INSERT INTO Events (id, manualSort, seq, kind, at, amount, label) VALUES (?,?,?,?,?,?,?)",
            [
                (
                    i,
                    i,
                    i,
                    kinds[i % 5],
                    1_700_000_000 + i * 60,
                    round((i * 37 % 1000) / 10, 2),
                    f"Label {i % 97}",
                )
                for i in range(start, ROWS + 1)
            ],
        )
        db.executemany(
            "INSERT INTO Users (manualSort, email, password_hash, role, active) VALUES (1e999, ?, ?, 'user', 1)",
            [(f"bench{i}@shop.test", hashed) for i in range(LOGIN_USERS)],
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def read_load(url: str, token: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}"}

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await http.get(PATH, params=QUERY, headers=headers)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200 or len(response.json()["records"]) != 100:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "errors": errors,
        "requests": len(latencies),
    }


async def login_load(url: str, stop: asyncio.Event) -> int:
    count = 0
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def one(i: int) -> None:
            nonlocal count
            while not stop.is_set():
                r = await http.post(
                    "/auth/login",
                    json={"email": f"bench{i}@shop.test", "password": "bench-password-1"},
                )
                if r.status_code == 200:
                    count += 1

        await asyncio.gather(*(one(i) for i in range(LOGIN_USERS)))
    return count


async def reads_with_logins(url: str, token: str, clients: int, seconds: float) -> dict[str, float]:
    stop = asyncio.Event()
    logins = asyncio.create_task(login_load(url, stop))
    result = await read_load(url, token, clients, seconds)
    stop.set()
    result["logins"] = await logins
    return result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_bare(body_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app_factory",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_BODY": str(body_path)},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/docs", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return process, url


def row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<34} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms"
        f"  p99 {r['p99_ms']:6.1f} ms  errors {int(r['errors'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="20,100")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_document(root)
        with running_gateway(root, extra="log: {level: warning}\n") as gateway:
            token = gateway.login(*ADMIN)
            body = httpx.get(
                gateway.url + PATH, params=QUERY, headers={"Authorization": f"Bearer {token}"}
            ).content
            body_path = root / "body.json"
            body_path.write_bytes(body)
            bare, bare_url = start_bare(body_path)
            try:
                print(
                    f"{ROWS} rows, GET 100 records with filter and sort, {args.seconds:.0f} s per run"
                )
                for clients in levels:
                    base = asyncio.run(read_load(bare_url, token, clients, args.seconds))
                    gw = asyncio.run(read_load(gateway.url, token, clients, args.seconds))
                    print(row(f"bare FastAPI, {clients} clients", base))
                    print(row(f"(a) gateway, {clients} clients", gw))
                    print(f"    throughput ratio gateway/bare: {gw['rps'] / base['rps']:.2f}")
                    mixed = asyncio.run(
                        reads_with_logins(gateway.url, token, clients, args.seconds)
                    )
                    print(
                        row(f"(b) gateway + 5 logging in, {clients}", mixed)
                        + f"  logins {int(mixed['logins'])}"
                    )
                print(
                    f"(c) gateway RSS: {rss_mb(gateway.process.pid):.0f} MB (bare endpoint: {rss_mb(bare.pid):.0f} MB)"
                )
            finally:
                bare.terminate()
                bare.wait(10)


if __name__ == "__main__":
    main()
