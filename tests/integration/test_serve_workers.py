"""`gristops serve` with two real uvicorn workers: what the workers share stays true.

Requests go out on a new connection each, so the kernel spreads them over both
workers; each worker's own metrics file shows it took part.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway_harness import Gateway, copy_shop, running_gateway

pytestmark = pytest.mark.integration

N = 60
ADMIN = ("admin@shop.test", "Admin!2024")
EXTRA = """\
server: {workers: 2}
auth: {max_failures_per_account: 4, max_failures_per_client: 100, lockout: 60}
observe: {status: {sample_seconds: 1}}
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("workers")
    copy_shop(root)
    with running_gateway(root, extra=EXTRA) as gw:
        wait_for_workers(gw, 2)
        yield gw
    assert not list((root / "data" / "run").glob("gateway-*")), "run directory left behind"


def run_dir(gateway: Gateway) -> Path:
    return gateway.dir / "data" / "run" / f"gateway-{gateway.process.pid}"


def workers(gateway: Gateway) -> set[int]:
    text = Path(f"/proc/{gateway.process.pid}/task/{gateway.process.pid}/children").read_text()
    return {pid for pid in map(int, text.split()) if "--worker-fd" in _cmdline(pid)}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def wait_for_workers(gateway: Gateway, count: int) -> None:
    """Until `count` workers have built their app (each writes its counter file then)."""
    deadline = time.monotonic() + 60
    while len(list((run_dir(gateway) / "metrics").glob("counter_*.db"))) < count:
        assert time.monotonic() < deadline, gateway.log()
        time.sleep(0.1)


def get(gateway: Gateway, path: str, **kwargs: object) -> httpx.Response:
    """One request on its own connection (a kept-alive one would stay on one worker)."""
    with gateway.client() as client:
        return client.get(path, **kwargs)  # type: ignore[arg-type]


def scrape_total(gateway: Gateway, route: str) -> float:
    text = get(gateway, "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gristops_http_requests_total" and s.labels["route"] == route
    )


def per_worker(gateway: Gateway, route: str) -> list[float]:
    """Each worker's own count of `route`, from its file in the shared directory."""
    counts = []
    for path in sorted((run_dir(gateway) / "metrics").glob("counter_*.db")):
        merged = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts.append(
            sum(
                s.value
                for family in merged
                for s in family.samples
                if s.name == "gristops_http_requests_total" and s.labels.get("route") == route
            )
        )
    return counts


def test_serve_says_how_many_workers_it_runs(gateway: Gateway) -> None:
    assert "2 workers" in gateway.log()


def test_every_scrape_gives_the_total_of_both_workers(gateway: Gateway) -> None:
    for _ in range(N):
        assert get(gateway, "/ready").status_code == 200
    totals = {scrape_total(gateway, "/ready") for _ in range(8)}
    assert totals == {N}
    counts = per_worker(gateway, "/ready")
    assert len(counts) == 2 and all(c > 0 for c in counts), counts  # both took requests
    assert sum(counts) == N


def test_a_killed_worker_is_replaced_and_its_requests_stay_counted(gateway: Gateway) -> None:
    before = scrape_total(gateway, "/ready")
    victim = min(workers(gateway))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while victim in workers(gateway) or len(workers(gateway)) < 2:
        assert time.monotonic() < deadline, gateway.log()
        time.sleep(0.1)
    wait_for_workers(gateway, 3)  # the replacement has its own file
    for _ in range(10):
        assert get(gateway, "/ready").status_code == 200
    assert {scrape_total(gateway, "/ready") for _ in range(6)} == {before + 10}
    up = get(gateway, "/metrics").text
    assert "gristops_store_up 1.0" in up  # one series, from the worker that probes


def test_wrong_passwords_spread_over_workers_lock_the_account(gateway: Gateway) -> None:
    email, guess = "manager@shop.test", "not-the-one-1"
    answers = []
    for _ in range(4):
        with gateway.client() as c:
            answers.append(c.post("/auth/login", json={"email": email, "password": guess}))
    assert [a.status_code for a in answers] == [401] * 4
    for _ in range(4):  # whichever worker answers, the lockout holds, right password or not
        with gateway.client() as c:
            locked = c.post("/auth/login", json={"email": email, "password": "Manager!2024"})
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["Retry-After"]) > 0


def test_a_refresh_token_spent_twice_revokes_its_family_on_any_worker(gateway: Gateway) -> None:
    with gateway.client() as c:
        pair = c.post("/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}).json()
    with gateway.client() as c:
        second = c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200
    for _ in range(3):  # the spent token is refused by every worker, as is its successor
        with gateway.client() as c:
            again = c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 401
        with gateway.client() as c:
            successor = c.post(
                "/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
            )
        assert successor.status_code == 401


def test_the_status_history_shows_the_requests_of_both_workers(gateway: Gateway) -> None:
    token = gateway.login(*ADMIN)
    served = scrape_total(gateway, "/ready")
    deadline = time.monotonic() + 30
    while True:
        data = get(gateway, "/status/data", headers={"Authorization": f"Bearer {token}"}).json()
        charted = sum(p["requests"] for p in data["requests"])
        if charted >= served:
            break
        assert time.monotonic() < deadline, (charted, served)
        time.sleep(0.5)
    logins_and_refreshes = charted - served
    assert 0 <= logins_and_refreshes < 30  # /ready and the auth calls, never twice


def test_a_write_through_one_worker_is_read_by_every_worker(gateway: Gateway) -> None:
    """Each worker caches answers by the document's version, which any write changes."""
    auth = {"Authorization": f"Bearer {gateway.login(*ADMIN)}"}
    products = "/api/docs/Shop/tables/Products/records"

    def prices() -> set[float]:
        answers = [get(gateway, products, headers=auth).json() for _ in range(8)]
        return {next(r["fields"]["price"] for r in a["records"] if r["id"] == 1) for a in answers}

    (before,) = prices()  # both workers' caches hold the answer now
    with gateway.client() as c:
        patch = {"records": [{"id": 1, "fields": {"price": before + 1}}]}
        assert c.patch(products, headers=auth, json=patch).status_code == 200
    assert prices() == {before + 1}
