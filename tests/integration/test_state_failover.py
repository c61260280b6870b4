"""Several gateways on one PostgreSQL state DB: one is killed mid-run and nobody notices.

Three `gristops serve` processes share a throwaway PostgreSQL cluster. Twenty
clients log in, refresh and read, each spreading its requests over the
gateways; the clients fail over themselves (one retry on the next gateway),
as the edge's balancer does in production (the nginx edge over several
upstreams is tested on its own).
"""

from __future__ import annotations

import itertools
import signal
import sqlite3
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import psycopg
import pytest

from tests.gateway_harness import Gateway, copy_shop, running_gateway

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
class Client:
    """One app: its own login, a token pair, and what went wrong."""

    number: int
    gateways: list[Gateway]
    turn: itertools.count[int] = field(default_factory=itertools.count)
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    access: str = ""
    refresh: str = ""

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        """The request on the next gateway; on a transport error, once more on the one after."""
        start = next(self.turn) + self.number
        for attempt in range(2):
            gateway = self.gateways[(start + attempt) % len(self.gateways)]
            try:
                r = httpx.request(method, gateway.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                if attempt == 0:
                    self.retries += 1
                    continue
                self.failures.append(f"{method} {path}: {exc!r} after a retry")
                return None
            if r.status_code != 200:
                self.failures.append(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
                return None
            return r
        return None

    def run(self, requests_done: threading.Semaphore) -> None:
        email, password = USERS[self.number % len(USERS)]
        r = self.call("POST", "/auth/login", json={"email": email, "password": password})
        if r is None:
            return
        self.access, self.refresh = r.json()["access_token"], r.json()["refresh_token"]
        for _ in range(ROUNDS):
            read = self.call("GET", READ, headers={"Authorization": f"Bearer {self.access}"})
            refreshed = self.call("POST", "/auth/refresh", json={"refresh_token": self.refresh})
            requests_done.release()
            if read is None or refreshed is None:
                return
            self.access = refreshed.json()["access_token"]
            self.refresh = refreshed.json()["refresh_token"]


def test_killing_one_of_three_gateways_loses_no_request_and_no_login(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"GRISTOPS_STATE_URL": postgres_url}
    with ExitStack() as stack:
        gateways = []
        for i in range(3):
            root = tmp_path / f"gateway{i}"
            root.mkdir()
            copy_shop(root)
            cheap_hashes(root)
            gateways.append(stack.enter_context(running_gateway(root, SHARED_STATE, env=env)))
        clients = [Client(n, gateways) for n in range(CLIENTS)]
        rounds_done = threading.Semaphore(0)
        threads = [threading.Thread(target=c.run, args=(rounds_done,)) for c in clients]
        for t in threads:
            t.start()
        for _ in range(CLIENTS * ROUNDS // 3):  # a third of the way through
            rounds_done.acquire(timeout=120)
        victim = gateways[0]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        for t in threads:
            t.join(timeout=300)

        assert [f for c in clients for f in c.failures] == []
        assert sum(c.retries for c in clients) >= 1  # the kill was noticed, and absorbed
        survivors = gateways[1:]
        for client in clients:  # every login goes on, on any gateway left
            r = httpx.post(
                f"{survivors[client.number % 2].url}/auth/refresh",
                json={"refresh_token": client.refresh},
            )
            assert r.status_code == 200, r.text
        with psycopg.connect(postgres_url) as conn:
            families = conn.execute(
                "SELECT count(*), count(revoked_at) FROM refresh_families"
            ).fetchone()
        assert families == (CLIENTS, 0)
        assert victim.process.returncode == -signal.SIGKILL
