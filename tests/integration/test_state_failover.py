"""Three gateways on one PostgreSQL state DB behind the nginx edge: one is killed mid-run.

Three `gristops serve` processes share a throwaway PostgreSQL cluster, and a
real nginx edge balances over them (edge.upstreams). Twenty clients log in,
refresh and read through the edge's HTTPS address, each on its own keep-alive
connection, as apps do. One gateway is killed with SIGKILL a third of the way
through: the edge takes it out and passes on what it had in flight; a client
may retry a request once (a 502/503/504 or a broken connection), and nothing
else may fail. The figures are printed for the record (`pytest -s`).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import psycopg
import pytest

from gristops.config import Config
from gristops.edge.nginx import Nginx, render
from tests.gateway_harness import Gateway, copy_shop, running_gateway
from tests.support.edge import loopback_edge

pytestmark = pytest.mark.integration

USERS = [
    ("manager@shop.test", "Manag3r#pass"),
    ("carol.mixed@shop.test", "Carol pass 3"),
    ("dave@shop.test", "dävé-ünicode-4"),
]
CLIENTS = 20
ROUNDS = 6
READ = "/api/docs/Shop/tables/Products/records"
SHARED_STATE = """\
state: {url: "${GRISTOPS_STATE_URL}"}
auth: {refresh_retry_window: 10}
server: {workers: 1}
"""
RETRIED = {502, 503, 504}  # the edge's own answers for a gateway it could not use


def cheap_hashes(root: Path) -> None:
    """The users' passwords hashed at bcrypt's lowest cost: twenty logins on a shared
    two-core machine test the state, not bcrypt."""
    with sqlite3.connect(root / "data" / "docs" / "Shop.grist") as doc:
        for email, password in USERS:
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            doc.execute(
                "UPDATE Users SET password_hash = ? WHERE lower(email) = ?", (hashed, email)
            )


@dataclass
class Progress:
    """Rounds done by all clients; `reached` is set once `mark` of them are."""

    mark: int
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    reached: threading.Event = field(default_factory=threading.Event)

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.done >= self.mark:
                self.reached.set()


@dataclass
class Client:
    """One app on its own connection to the edge: a login, a token pair, what went wrong."""

    number: int
    http: httpx.Client
    requests: int = 0
    retried: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    refresh: str = ""

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        """The request, retried once when the edge could not get it answered."""
        self.requests += 1
        started = time.perf_counter()
        for attempt in range(2):
            try:
                r = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                why = repr(exc)
            else:
                if r.status_code == 200:
                    self.seconds.append(time.perf_counter() - started)
                    return r
                why = f"HTTP {r.status_code} {r.text[:200]}"
                if r.status_code not in RETRIED:
                    break
            if attempt == 0:
                self.retried.append(f"client {self.number}: {method} {path}: {why}")
        self.failures.append(f"client {self.number}: {method} {path}: {why}")
        return None

    def run(self, progress: Progress) -> None:
        email, password = USERS[self.number % len(USERS)]
        r = self.call("POST", "/auth/login", json={"email": email, "password": password})
        if r is None:
            return
        access, self.refresh = r.json()["access_token"], r.json()["refresh_token"]
        for _ in range(ROUNDS):
            read = self.call("GET", READ, headers={"Authorization": f"Bearer {access}"})
            refreshed = self.call("POST", "/auth/refresh", json={"refresh_token": self.refresh})
            progress.step()
            if read is None or refreshed is None:
                return
            access = refreshed.json()["access_token"]
            self.refresh = refreshed.json()["refresh_token"]


@dataclass
class Edge:
    config: Config
    nginx: Nginx

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.config.edge.https_port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=False, timeout=15)

    def passed_on(self) -> list[dict[str, object]]:
        """Access-log entries of requests nginx sent to more than one gateway."""
        lines = self.nginx.paths.access_log.read_text().splitlines()
        return [e for e in map(json.loads, lines) if "," in str(e["upstream"])]


@pytest.fixture
def gateways(tmp_path: Path, postgres_url: str) -> Iterator[list[Gateway]]:
    env = {"GRISTOPS_STATE_URL": postgres_url}
    with ExitStack() as stack:
        started = []
        for i in range(3):
            root = tmp_path / f"gateway{i}"
            root.mkdir()
            copy_shop(root)
            cheap_hashes(root)
            gateway = stack.enter_context(running_gateway(root, SHARED_STATE, env=env))
            with gateway.client() as warm:  # the document opened before the clients come
                auth = {"Authorization": f"Bearer {gateway.login(*USERS[0])}"}
                assert warm.get(READ, headers=auth).status_code == 200
            started.append(gateway)
        yield started


@pytest.fixture
def edge(tmp_path: Path, gateways: list[Gateway]) -> Iterator[Edge]:
    config = loopback_edge(
        tmp_path / "edge",
        worker_processes=1,
        upstreams=[g.url.removeprefix("http://") for g in gateways],
        upstream_max_fails=1,
        upstream_fail_timeout=60,  # the dead gateway stays out for the rest of the run
        proxy_timeout=10,
        # Twenty apps behind one address: at the default 30 a minute most get 429.
        auth_rate_per_minute=60_000,
        auth_burst=1_000,
    )
    nginx = Nginx(config)
    try:
        nginx.apply(render(config, upstream_port=1, web_root=None))
        nginx.start()
        yield Edge(config, nginx)
    finally:
        nginx.stop()


def p95(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=20)[-1]


def test_killing_one_of_three_gateways_behind_the_edge_loses_no_request_and_no_login(
    edge: Edge, gateways: list[Gateway], postgres_url: str
) -> None:
    clients = [Client(n, edge.client()) for n in range(CLIENTS)]
    progress = Progress(mark=CLIENTS * ROUNDS // 3)
    threads = [threading.Thread(target=c.run, args=(progress,)) for c in clients]
    for t in threads:
        t.start()
    # Until a third of the rounds are done, or every client stopped (a failure stops one).
    deadline = time.monotonic() + 120
    while not (reached := progress.reached.wait(timeout=0.05)):
        if not any(t.is_alive() for t in threads) or time.monotonic() > deadline:
            break
    victim = gateways[0]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        c.http.close()

    failures = [f for c in clients for f in c.failures]
    assert reached, f"the clients stopped before a third of the run: {failures[:5]}"
    assert not any(t.is_alive() for t in threads)
    requests = sum(c.requests for c in clients)
    retried = [r for c in clients for r in c.retried]
    passed_on = edge.passed_on()
    seconds = [s for c in clients for s in c.seconds]
    with psycopg.connect(postgres_url) as conn:
        # A refresh the dead gateway rotated but never answered, asked again within the retry
        # window: the token and the successor it superseded point to the same new one.
        lost = conn.execute(
            "SELECT count(*) FROM (SELECT successor_sha256 FROM refresh_tokens"
            " WHERE successor_sha256 IS NOT NULL GROUP BY successor_sha256"
            " HAVING count(*) > 1) AS twice"
        ).fetchone()
    print(
        f"\nfailover through the edge: {requests} requests by {CLIENTS} clients over 3 "
        f"gateways, one SIGKILLed after {progress.mark} of {CLIENTS * ROUNDS} rounds: "
        f"{len(failures)} failed, {len(retried)} retried by a client, {len(passed_on)} passed "
        f"on by the edge ({lost[0] if lost else 0} refreshes answered again within the retry "
        f"window), p95 {p95(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms",
        *(f"\n  retried: {r}" for r in retried),
    )
    assert failures == []
    assert requests == CLIENTS * (1 + 2 * ROUNDS)
    # The kill was noticed (the edge or a client met the dead gateway) and absorbed.
    assert passed_on or retried
    with edge.client() as http:  # every login goes on
        for client in clients:
            r = http.post("/auth/refresh", json={"refresh_token": client.refresh})
            assert r.status_code == 200, r.text
    with psycopg.connect(postgres_url) as conn:
        families = conn.execute("SELECT count(*), count(revoked_at) FROM refresh_families")
        total, revoked = families.fetchone() or (0, 0)
    # A login passed on after the dead gateway made it leaves that family unused, not revoked.
    assert total >= CLIENTS and revoked == 0
    assert victim.process.returncode == -signal.SIGKILL
