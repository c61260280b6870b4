"""Gateway benchmark: reads through the gateway on the embedded store against a bare endpoint.

    python bench/gateway.py [--seconds 10] [--clients 20,100] [--only-workers]

(a) GET 100 records of a 10,000-row table with a filter and a sort, N
    concurrent clients: requests/s and p50/p95/p99, and the ratio to a bare
    FastAPI + uvicorn endpoint (one process) answering the same pre-built JSON
    in this run: a repeated read (a cache hit), a read that misses the cache
    every time (a query string never seen before: the query runs), and a
    revalidation that gets 304 Not Modified; the gateway with 1 worker, then
    with its default (one per CPU), and the ratio between the two (with the CPU wrk itself used: it shares the machine); the
    gateway's /metrics total against the requests wrk counted; the same reads
    with metrics and logs off (`observe.prometheus.request_metrics: false`,
    no access log, no log file), and through FastAPI's routing alone
    (`server.fast_reads: false`), and on uvloop (`server.event_loop: uvloop`);
(b) the same reads while 5 clients log in continuously (bcrypt cost 12);
(c) each worker's resident memory (VmRSS) after the misses filled its
    response cache to the default size;
(d) access rules: GET 100 records of a 100,000-row table shared by 1,000
    users, as one of them under the row rule `rec.user == user.id` (exactly
    their 100 rows), against the same read by a role without a rule; with
    and without a sort; then the file store's reads alone, in this process
    (best of several interleaved rounds). Goal: the rule costs at most 1.2x.

All servers are real uvicorn processes on 127.0.0.1, all running at once; the
load comes from wrk on this machine. The (a) runs are interleaved: each round
runs every kind on every server in turn, and a ratio is the median over rounds
of the ratio between runs of the same round, which cancels most of a shared
machine's drift. Figures are printed, never asserted; the end of the run
prints them again as one table per goal set (conditional reads and the cache;
workers; tail latency and the cost of metrics and logs), each goal beside its
figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gristops.config.model import ServerSection  # noqa: E402
from gristops.gateway.workers import worker_count  # noqa: E402
from tests.conftest import SHOP_GRIST  # noqa: E402
from tests.gateway_harness import Gateway, free_port, running_gateway  # noqa: E402

ROWS = 10_000
QUERY = {
    "filter": json.dumps({"kind": ["view", "click", "cart"]}),
    "sort": "-amount,seq",
    "limit": "100",
}
PATH = "/api/docs/Shop/tables/Events/records"
ADMIN = ("admin@shop.test", "Admin!2024")
LOGIN_USERS = 5
RULE_ROWS = 100_000
RULE_USERS = 1_000
ORDERS = "/api/docs/Shop/tables/Orders/records"
ROLES = """\
roles:
  admin: {"*": [read, create, update, delete]}
  user: {Orders: [read]}
  customer:
    Orders: {actions: [read], rows: {rec: user, user: id}}
"""


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
        first = db.execute("SELECT max(id) FROM Users").fetchone()[0] + 1
        db.executemany(
            "INSERT INTO Users (id, manualSort, email, password_hash, role, active) VALUES (?, ?, ?, ?, 'customer', 1)",
            [(first + i, first + i, f"customer{i}@shop.test", hashed) for i in range(RULE_USERS)],
        )
        # Orders: 100,000 rows, each customer owning every 1,000th one (100 rows each).
        db.execute("DELETE FROM Orders")
        db.executemany(
            "INSERT INTO Orders (id, manualSort, product, user, qty, note) VALUES (?,?,?,?,?,?)",
            [
                (i, i, 1 + i % 15, first + i % RULE_USERS, i * 7 % 50, f"note {i % 89}")
                for i in range(1, RULE_ROWS + 1)
            ],
        )


REPORT_LUA = """
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %f %f %f %d\\n", summary.requests, summary.duration, errors,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status))
end
"""
# Every request a query string never seen before: each one misses the response cache
# (the salt, wrk's first script argument, keeps one run's strings from another's).
MISS_LUA = """
counter = 0
salt = ""
init = function(args)
  salt = args[1] or ""
end
request = function()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. "&miss=" .. salt .. "-" .. counter)
end
"""
LOGIN_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "bench0@shop.test", "password": "bench-password-1"}'
"""


def wrk(
    url: str,
    clients: int,
    seconds: float,
    script: Path,
    headers: dict[str, str] | None = None,
    script_args: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    """Start wrk (one thread, so the gateway keeps the other core) with a reporting script."""
    args = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{round(seconds)}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
    ]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    return subprocess.Popen([*args, url, "--", *script_args], stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen[str]) -> dict[str, float]:
    # wrk's own CPU: the children's usage grows by it when it is reaped, here.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, _ = process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if "RESULT " not in out:
        raise RuntimeError(f"wrk failed:\n{out}")
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    requests, duration_us, errors, p50, p95, p99, non2xx = (float(x) for x in line.split()[1:])
    return {
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "errors": errors,
        "non2xx": non2xx,  # answers with a status outside 2xx/3xx (wrk's status errors)
        "requests": requests,
        "wrk_cores": cpu / (duration_us / 1e6),  # the load generator's share of the machine
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_rss_mb(pid: int, workers: int) -> list[float]:
    """VmRSS of each worker: uvicorn's children, or the serve process itself for one worker."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    # Besides the workers, the parent may have a small helper child (a resource tracker):
    # the workers are the biggest.
    sizes = sorted((rss_mb(int(child)) for child in children), reverse=True)
    return sizes[:workers] if workers > 1 else [rss_mb(pid)]


def served(gateway: Gateway) -> float:
    """The gateway's count of the benchmarked route, as one /metrics scrape gives it."""
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    pattern = r'^gristops_http_requests_total\{[^}]*route="/api/docs/\{docId\}/tables/\{tableId\}/records"[^}]*\} (\S+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


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


KINDS = {"hit": "cache hit", "miss": "cache miss", "revalidated": "304 revalidation"}


@dataclass
class Target:
    """A server under load: the read's URL, its Authorization header and the answer's ETag."""

    name: str
    url: str
    auth: dict[str, str] = field(default_factory=dict)
    etag: str = ""


def target(name: str, gateway: Gateway) -> Target:
    auth = {"Authorization": f"Bearer {gateway.login(*ADMIN)}"}
    url = gateway.url + PATH + "?" + urlencode(QUERY)
    return Target(name, url, auth, httpx.get(url, headers=auth).headers["etag"])


def run(
    t: Target, kind: str, clients: int, seconds: float, scripts: dict[str, Path], salt: str = ""
) -> dict[str, float]:
    """One wrk run of `kind` against `t`."""
    if kind == "miss":
        return result(wrk(t.url, clients, seconds, scripts["miss"], t.auth, (salt,)))
    headers = {**t.auth, "If-None-Match": t.etag} if kind == "revalidated" else t.auth
    return result(wrk(t.url, clients, seconds, scripts["report"], headers))


@dataclass
class Rounds:
    """Every wrk run of the interleaved rounds, by (server, kind, clients)."""

    runs: dict[tuple[str, str, int], list[dict[str, float]]] = field(default_factory=dict)

    def median(self, name: str, kind: str, clients: int) -> dict[str, float]:
        samples = self.runs[name, kind, clients]
        return {key: statistics.median(s[key] for s in samples) for key in samples[0]}

    def ratio(self, a: tuple[str, str], b: tuple[str, str], clients: int) -> float:
        """The median over rounds of a's throughput over b's in the same round: runs
        seconds apart share the machine's mood, so noise cancels in the pair."""
        pairs = zip(self.runs[(*a, clients)], self.runs[(*b, clients)], strict=True)
        return statistics.median(x["rps"] / y["rps"] for x, y in pairs)


def interleave(
    targets: list[Target],
    levels: list[int],
    seconds: float,
    scripts: dict[str, Path],
    rounds: int,
) -> Rounds:
    """(a) for every server at every level: each round runs each kind on every server in
    turn (the order rotating), so each comparison is made between neighbouring runs.
    The bare endpoint answers every kind the same: it runs once a round."""
    out = Rounds()
    for clients in levels:
        for r in range(rounds):
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for kind in KINDS:
                for t in order:
                    if t.name == "bare" and kind != "hit":
                        continue
                    sample = run(t, kind, clients, seconds, scripts, salt=f"{t.name}{r}")
                    out.runs.setdefault((t.name, kind, clients), []).append(sample)
    return out


@dataclass
class Full:
    """(b) reads while 5 clients log in, and /metrics against wrk's count of cache hits."""

    mixed: dict[str, float]
    logins: dict[str, float]
    mismatch: float  # /metrics minus wrk's count
    connections: list[int]  # wrk's connections each worker holds, most first


def connections_per_process(port: str) -> list[int]:
    """Established connections to `port` by the process holding them (ss), most first."""
    if shutil.which("ss") is None:
        return []
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sorted(Counter(re.findall(r"pid=(\d+)", out)).values(), reverse=True)


def measure_full(
    t: Target, gateway: Gateway, clients: int, seconds: float, scripts: dict[str, Path]
) -> Full:
    before = served(gateway)
    process = wrk(t.url, clients, seconds, scripts["report"], t.auth)
    time.sleep(min(1.0, seconds / 2))  # every connection is open
    connections = connections_per_process(gateway.url.rsplit(":", 1)[1])
    hit = result(process)
    time.sleep(1)  # the requests in flight at wrk's deadline finish
    mismatch = served(gateway) - before - hit["requests"]
    logins = wrk(gateway.url + "/auth/login", LOGIN_USERS, seconds, scripts["login"])
    mixed = result(wrk(t.url, clients, seconds, scripts["report"], t.auth))
    return Full(mixed, result(logins), mismatch, connections)


# The gateways of one run: (name, extra config, full measurement). The log level is the
# default (info: one access line per request, to stderr and data_dir/logs).
ON = ""
OFF = (
    "log: {access: false}\n"
    "observe: {logs: {enabled: false}, prometheus: {request_metrics: false}}\n"
)
SLOW = "server: {fast_reads: false, workers: %d}\n"
UVLOOP = "server: {event_loop: uvloop, workers: %d}\n"


def goal(figure: float, text: str, met: bool) -> str:
    return f"{figure:>9.2f}  {text:<12} {'met' if met else 'NOT MET'}"


def tables(
    levels: list[int],
    default: int,
    rounds: Rounds,
    full: dict[tuple[str, int], Full],
    rss: dict[str, list[float]],
) -> None:
    """The figures the goals name, one table per goal set, each goal beside its figure
    (ratios: medians of same-round ratios; latencies: medians over rounds)."""
    d, slow = f"{default}w", f"slow{default}"
    print(f"\n== Conditional reads and the response cache ({default} workers, ratio to bare) ==")
    for c in levels:
        hit = rounds.ratio((d, "hit"), ("bare", "hit"), c)
        print(f"  cache hit, {c:>3} clients    " + goal(hit, ">= 0.50", hit >= 0.5))
        ratio = rounds.ratio((d, "revalidated"), ("bare", "hit"), c)
        print(f"  304,       {c:>3} clients    " + goal(ratio, ">= 0.70", ratio >= 0.7))
        ratio = rounds.ratio((d, "miss"), (slow, "miss"), c)
        print(f"  miss vs FastAPI path, {c:>3}  " + goal(ratio, ">= 1.00 (noise)", ratio >= 0.95))
        print(
            f"    (FastAPI path alone: hit {rounds.ratio((slow, 'hit'), ('bare', 'hit'), c):.2f},"
            f" 304 {rounds.ratio((slow, 'revalidated'), ('bare', 'hit'), c):.2f} of bare)"
        )
    worst = max(rss[d])
    print(
        "  RSS per worker, MB (max)    "
        + goal(worst, "< 150", worst < 150)
        + f"  (each: {', '.join(f'{m:.0f}' for m in rss[d])}; VmRSS after the misses filled the default cache)"
    )
    print(f"\n== Workers: {default} against 1 ==")
    for c in levels:
        for kind in ("hit", "miss"):
            ratio = rounds.ratio((d, kind), ("1w", kind), c)
            cores = (rounds.median(n, kind, c)["wrk_cores"] for n in ("1w", d))
            print(
                f"  throughput, {kind:<4} {c:>3} clients "
                + goal(ratio, ">= 1.80", ratio >= 1.8)
                + "  (wrk used {:.2f} / {:.2f} cores)".format(*cores)
            )
    high = max(levels)
    for kind in ("hit", "miss"):
        p99 = rounds.median(d, kind, high)["p99_ms"]
        print(f"  p99 ms, {kind:<4} {high:>3} clients    " + goal(p99, "< 250", p99 < 250))
    for c in levels:
        f = full[d, c]
        print(
            f"  /metrics - wrk count, {c:>3}    {f.mismatch:>+9.0f}  == 0 (+ in flight at wrk's end)"
        )
        print(f"  wrk's connections per worker, {c:>3}: {'/'.join(map(str, f.connections))}")
        alone = rounds.median(d, "hit", c)["p95_ms"]
        print(f"  read p95 ms, 5 logging in, {c:>3}: {f.mixed['p95_ms']:.1f} (alone {alone:.1f})")
    print(f"\n== Tail latency and the cost of metrics and logs ({default} workers) ==")
    p99 = rounds.median(d, "miss", high)["p99_ms"]
    print(f"  embedded p99 ms, query runs, {high} clients " + goal(p99, "< 250", p99 < 250))
    for c in levels:
        for kind in ("hit", "miss"):
            ratio = rounds.ratio((d, kind), ("off", kind), c)
            print(
                f"  on/off throughput, {kind:<4} {c:>3}   " + goal(ratio, ">= 0.90", ratio >= 0.9)
            )
    uv = f"uvloop{default}"
    for kind in ("hit", "miss"):
        ratio = rounds.ratio((d, kind), (uv, kind), high)
        p99s = (rounds.median(n, kind, high)["p99_ms"] for n in (d, uv))
        print(
            f"  asyncio/uvloop, {kind:<4} {high}: throughput {ratio:.2f},"
            + " p99 {:.0f} / {:.0f} ms".format(*p99s)
        )
    print("  hybrid p99 at 100 clients: bench/grist.py (make bench runs it next)")


def bench_workers(
    root: Path, levels: list[int], seconds: float, scripts: dict[str, Path], rounds: int
) -> None:
    """(a)'s workers goal alone: 1 worker against the default, no other server running."""
    default = worker_count(ServerSection())
    d = f"{default}w"
    with ExitStack() as stack:
        running = {
            name: stack.enter_context(
                running_gateway(root, ON + f"server: {{workers: {n}}}\n", log_name=f"{name}.log")
            )
            for name, n in (("1w", 1), (d, default))
        }
        time.sleep(2)  # every worker has built its app
        out = interleave(
            [target(n, g) for n, g in running.items()], levels, seconds, scripts, rounds
        )
    print(f"\n== Workers alone: {default} against 1, {rounds} rounds of {seconds:g} s ==")
    for c in levels:
        for kind in ("hit", "miss"):
            each = [
                x["rps"] / y["rps"]
                for x, y in zip(out.runs[d, kind, c], out.runs["1w", kind, c], strict=True)
            ]
            p99 = out.median(d, kind, c)["p99_ms"]
            print(
                f"  {kind:<4} {c:>3} clients: throughput "
                + goal(statistics.median(each), ">= 1.80", statistics.median(each) >= 1.8)
                + f"  (rounds: {', '.join(f'{r:.2f}' for r in each)}; p99 {p99:.0f} ms)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds per wrk run.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of (a).")
    parser.add_argument("--clients", default="20,100")
    parser.add_argument("--only-rules", action="store_true", help="Run (d) alone.")
    parser.add_argument(
        "--only-workers", action="store_true", help="Run 1 worker against the default alone."
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/gateway.py needs wrk: apt-get install wrk")
    levels = [int(c) for c in args.clients.split(",")]
    default = worker_count(ServerSection())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_document(root)
        report = root / "report.lua"
        report.write_text(REPORT_LUA)
        login = root / "login.lua"
        login.write_text(LOGIN_LUA + REPORT_LUA)
        miss = root / "miss.lua"
        miss.write_text(MISS_LUA + REPORT_LUA)
        scripts = {"report": report, "login": login, "miss": miss}
        if args.only_rules:
            bench_rules(root, levels, args.seconds, miss)
            return
        if args.only_workers:
            bench_workers(root, levels, args.seconds, scripts, args.rounds)
            return
        query = PATH + "?" + urlencode(QUERY)
        with running_gateway(root, extra="server: {workers: 1}\n") as gw:
            token = gw.login(*ADMIN)
            body = httpx.get(gw.url + query, headers={"Authorization": f"Bearer {token}"}).content
        assert len(json.loads(body)["records"]) == 100
        body_path = root / "body.json"
        body_path.write_bytes(body)
        print(
            f"{ROWS} rows, GET 100 records with filter and sort, {args.rounds} interleaved rounds"
            f" of {args.seconds:g} s runs (medians shown), load by wrk; {os.cpu_count()} CPUs,"
            f" load average {os.getloadavg()[0]:.1f} at start"
        )
        gateways = [
            ("1w", ON + "server: {workers: 1}\n", True),
            (f"{default}w", ON + f"server: {{workers: {default}}}\n", True),
            ("off", OFF + f"server: {{workers: {default}}}\n", False),
            (f"slow{default}", SLOW % default, False),
            (f"uvloop{default}", ON + UVLOOP % default, False),
        ]
        # Every server runs from the start (idle ones cost nothing), so the rounds can
        # alternate between them.
        with ExitStack() as stack:
            bare_process, bare_url = start_bare(body_path)
            stack.callback(bare_process.wait, 10)
            stack.callback(bare_process.terminate)
            running = {
                name: stack.enter_context(running_gateway(root, extra, log_name=f"{name}.log"))
                for name, extra, _ in gateways
            }
            time.sleep(2)  # every worker has built its app
            targets = [Target("bare", bare_url + query)]
            targets += [target(name, gateway) for name, gateway in running.items()]
            rounds = interleave(targets, levels, args.seconds, scripts, args.rounds)
            by_name = {t.name: t for t in targets}
            full = {
                (name, c): measure_full(by_name[name], running[name], c, args.seconds, scripts)
                for c in levels
                for name, _, measured in gateways
                if measured
            }
            for c in levels:
                print(row(f"bare FastAPI, {c} clients", rounds.median("bare", "hit", c)))
                for name in running:
                    for kind, label in KINDS.items():
                        first = f"(a) gateway {name}, {c} clients, {label}"
                        ratio = rounds.ratio((name, kind), ("bare", "hit"), c)
                        print(
                            row(
                                first if kind == "hit" else f"    {label}",
                                rounds.median(name, kind, c),
                            )
                            + f"  ratio to bare {ratio:.2f}"
                        )
                    if (name, c) in full:
                        f = full[name, c]
                        print(f"    /metrics minus wrk's count (cache hits): {f.mismatch:+.0f}")
                        split = "/".join(str(n) for n in f.connections) or "ss not found"
                        print(f"    wrk's connections per worker: {split}")
                        print(row(f"(b) gateway {name}, {c} + 5 logging in", f.mixed))
                        print(row("    the logins themselves", f.logins))
            rss: dict[str, list[float]] = {}
            for name, gateway in running.items():
                rss[name] = worker_rss_mb(gateway.process.pid, 1 if name == "1w" else default)
                metrics = httpx.get(gateway.url + "/metrics", timeout=30).text
                held = re.search(r"^gristops_response_cache_bytes (\S+)$", metrics, re.MULTILINE)
                cached = float(held.group(1)) / 2**20 if held else float("nan")
                print(
                    f"(c) gateway {name}: worker RSS {', '.join(f'{m:.0f}' for m in rss[name])} MB,"
                    f" response caches holding {cached:.1f} MiB in all"
                )
        tables(levels, default, rounds, full, rss)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        bench_rules(root, levels, args.seconds, miss)


def store_reads(docs: Path, user_id: int, rounds: int = 7, reads: int = 200) -> None:
    """(d) in one process: the file store's reads alone, interleaved, best round of each."""
    from gristops.store.base import RecordQuery, SortKey
    from gristops.store.file.store import GristFileStore
    from gristops.store.rows import RowEq

    async def run() -> None:
        store = GristFileStore(docs)
        rule = RowEq("user", user_id)
        try:
            for sort in ((), (SortKey("qty", True), SortKey("note"))):
                plain, ruled = (
                    RecordQuery(limit=100, sort=sort),
                    RecordQuery(limit=100, sort=sort, rows=rule),
                )
                best = {"no rule": float("inf"), "row rule": float("inf")}
                for _ in range(rounds):
                    for name, query in (("no rule", plain), ("row rule", ruled)):
                        start = time.perf_counter()
                        for _ in range(reads):
                            assert len(await store.fetch_records("Shop", "Orders", query)) == 100
                        best[name] = min(best[name], (time.perf_counter() - start) / reads * 1000)
                what = "sorted" if sort else "unsorted"
                print(
                    f"    store alone, {what}: no rule {best['no rule']:.2f} ms, row rule "
                    f"{best['row rule']:.2f} ms per read: {best['row rule'] / best['no rule']:.2f}x"
                )
        finally:
            await store.aclose()

    asyncio.run(run())


def bench_rules(root: Path, levels: list[int], seconds: float, miss: Path) -> None:
    """(d): the same reads with and without a row rule (see the module doc).

    Every request misses the response cache (`miss`): the query runs each time."""
    (root / "data" / "state.db").unlink(missing_ok=True)
    with running_gateway(root, extra="log: {level: warning}\n", roles=ROLES) as gateway:
        customer = gateway.login("customer123@shop.test", "bench-password-1")
        plain = gateway.login("bench0@shop.test", "bench-password-1")
        print(f"(d) {RULE_ROWS} rows shared by {RULE_USERS} users, GET 100 records, load by wrk")
        for query in ({"limit": "100"}, {"sort": "-qty,note", "limit": "100"}):
            url = gateway.url + ORDERS + "?" + urlencode(query)
            # Warm up both: the first sorted read builds its order, the first ruled one its index.
            for token in (plain, customer):
                for _ in range(3):
                    answer = httpx.get(
                        url, headers={"Authorization": f"Bearer {token}"}, timeout=120
                    )
                    assert len(answer.json()["records"]) == 100
                time.sleep(1)
            for clients in levels:
                without = result(
                    wrk(url, clients, seconds, miss, {"Authorization": f"Bearer {plain}"})
                )
                ruled = result(
                    wrk(url, clients, seconds, miss, {"Authorization": f"Bearer {customer}"})
                )
                name = ",".join(f"{k}={v}" for k, v in query.items())
                print(row(f"    no rule, {name}, {clients}", without))
                print(row(f"    row rule, {name}, {clients}", ruled))
                print(
                    f"    rule cost: p50 {ruled['p50_ms'] / without['p50_ms']:.2f}x, "
                    f"throughput {without['rps'] / ruled['rps']:.2f}x (goal <= 1.2x)"
                )
    # The gateway has created the index by now; the store alone is less sensitive to a busy host.
    with sqlite3.connect(root / "data" / "docs" / "Shop.grist") as db:
        user_id = db.execute(
            "SELECT id FROM Users WHERE email = 'customer123@shop.test'"
        ).fetchone()[0]
    store_reads(root / "data" / "docs", user_id)


if __name__ == "__main__":
    main()
