"""State DB benchmark: the hot path of authentication on SQLite and on PostgreSQL.

    python bench/state.py [--seconds 5] [--threads 1,8]

In this process, on a SQLite file and on a throwaway PostgreSQL cluster
(Debian's postgresql, on 127.0.0.1) started for the run: refresh-token
rotations per second (the state DB's whole share of POST /auth/refresh), and
the state DB's share of a login (failures checked, cleared, the family
started, the audit row written), with 1 and 8 threads; and the statements one
rotation sends to PostgreSQL (the goal is one), counted in the server's log:
the cluster logs every statement, which slows it a little in this run.
Ratios PostgreSQL/SQLite are of figures measured in this run. Figures are
printed, never asserted. Reads never touch the state DB (access tokens are
verified with keys held in memory): last, bench/gateway.py's read (hits,
misses, 304s; 20 clients, wrk) against a gateway with its state on SQLite and
one on PostgreSQL, in interleaved rounds; the goal is a ratio within 5 %.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import KINDS, MISS_LUA, REPORT_LUA, interleave, make_document, target  # noqa: E402
from gristops.state.audit import AuthAudit, AuthEvent  # noqa: E402
from gristops.state.db import StateDB  # noqa: E402
from gristops.state.sessions import RefreshSessions  # noqa: E402
from gristops.state.throttle import FailureKey, LoginFailures  # noqa: E402
from tests.gateway_harness import running_gateway  # noqa: E402
from tests.support.postgres import find_bin_dir, running_cluster  # noqa: E402


def rate(work: Callable[[int], None], threads: int, seconds: float) -> float:
    """Calls of work(thread) per second, over `threads` threads for `seconds`."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def loop(n: int) -> None:
        while time.monotonic() < stop:
            work(n)
            done[n] += 1

    pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / seconds


def figures(db: StateDB, threads: int, seconds: float) -> tuple[float, float]:
    sessions, failures, audit = RefreshSessions(db), LoginFailures(db), AuthAudit(db)
    current: dict[int, str] = {}
    now = time.time()
    for n in range(threads):
        current[n] = secrets.token_hex(16)
        sessions.start(f"bench-{threads}-{n}", n, current[n], now, now + 3600)

    def refresh(n: int) -> None:
        successor = secrets.token_hex(16)
        assert sessions.rotate(current[n], successor, time.time(), now + 3600).status == "rotated"
        current[n] = successor

    def login(n: int) -> None:
        keys = [FailureKey("account", f"user-{n}"), FailureKey("client", "10.0.0.1")]
        for key in keys:
            failures.count_since(key, now - 900)
            failures.clear(key)
        sessions.start(f"login-{secrets.token_hex(8)}", n, secrets.token_hex(16), now, now + 3600)
        audit.record(AuthEvent(now, "login", "success", n, "digest", "10.0.0.1", None))

    return rate(refresh, threads, seconds), rate(login, threads, seconds)


def statements_per_rotation(log: Path, db: StateDB) -> float:
    """Statements the server received per rotation (the cluster logs every statement)."""
    sessions = RefreshSessions(db)
    now = time.time()
    token = secrets.token_hex(16)
    sessions.start("count", 1, token, now, now + 3600)
    before = log.read_text(errors="replace").count("LOG:  ")
    for _ in range(100):
        successor = secrets.token_hex(16)
        sessions.rotate(token, successor, time.time(), now + 3600)
        token = successor
    return (log.read_text(errors="replace").count("LOG:  ") - before) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,8")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of reads.")
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed: make install-system")
    logged = ("log_statement=all",)
    with tempfile.TemporaryDirectory() as tmp, running_cluster(bin_dir, logged) as cluster:
        url = cluster.url()
        engines = {"sqlite": StateDB(Path(tmp) / "state.db"), "postgresql": StateDB(url)}
        print(
            f"statements per rotation on PostgreSQL: {statements_per_rotation(cluster.log, engines['postgresql']):.2f}"
        )
        for threads in (int(t) for t in args.threads.split(",")):
            got = {name: figures(db, threads, args.seconds) for name, db in engines.items()}
            for i, what in enumerate(("refresh rotations/s", "login state work/s")):
                sq, pg = got["sqlite"][i], got["postgresql"][i]
                print(
                    f"{threads} threads, {what}: SQLite {sq:.0f}, PostgreSQL {pg:.0f}, ratio {pg / sq:.2f}"
                )
        for db in engines.values():
            db.close()
        gateway_reads(Path(tmp), url, args.seconds, args.rounds)


def gateway_reads(root: Path, url: str, seconds: float, rounds: int) -> None:
    """The gateway's read bench (bench/gateway.py's query, one worker each) with its state
    on SQLite and on PostgreSQL, interleaved: reads never touch the state DB (goal: within 5 %)."""
    make_document(root)
    scripts = {"report": root / "report.lua", "miss": root / "miss.lua"}
    scripts["report"].write_text(REPORT_LUA)
    scripts["miss"].write_text(MISS_LUA + REPORT_LUA)
    one = "server: {workers: 1}\n"
    with (
        running_gateway(root, one, log_name="sqlite.log") as on_sqlite,
        running_gateway(root, one + f"state: {{url: '{url}'}}\n", log_name="pg.log") as on_pg,
    ):
        targets = [target("sqlite", on_sqlite), target("postgresql", on_pg)]
        runs = interleave(targets, [20], seconds, scripts, rounds)
    for kind, label in KINDS.items():
        ratio = runs.ratio(("postgresql", kind), ("sqlite", kind), 20)
        sq, pg = (runs.median(name, kind, 20)["rps"] for name in ("sqlite", "postgresql"))
        print(
            f"gateway reads, {label}, 20 clients: SQLite state {sq:.0f} req/s, PostgreSQL state"
            f" {pg:.0f} req/s, ratio {ratio:.2f} (goal 0.95 to 1.05)"
        )


if __name__ == "__main__":
    main()
