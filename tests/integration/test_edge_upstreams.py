"""The edge balancing over two real gateway processes (one state DB) behind a real nginx.

A gateway stopped with SIGSTOP takes connections and never answers (a hung
host); one killed with SIGKILL refuses them (a crashed one).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gristops.config import Config
from gristops.edge.nginx import Nginx, render
from tests.gateway_harness import Gateway, copy_shop, running_gateway
from tests.support.edge import loopback_edge

pytestmark = pytest.mark.integration

RECORDS = "/api/docs/Shop/tables/Products/records"
ONE_PROCESS = "server: {workers: 1}\n"  # the pid the test stops or kills is the gateway
ADMIN = ("admin@shop.test", "Admin!2024")  # the Shop document's admin
LOGIN = dict(zip(("email", "password"), ADMIN, strict=True))


@dataclass
class Fleet:
    gateways: list[Gateway]
    config: Config
    nginx: Nginx

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.config.edge.https_port}"

    def address(self, gateway: Gateway) -> str:
        return gateway.url.removeprefix("http://")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=False, timeout=30)

    def token(self) -> dict[str, str]:
        with self.client() as client:
            answer = client.post("/auth/login", json=LOGIN)
        assert answer.status_code == 200, answer.text
        return bearer(answer)

    def log(self, since: int, count: int) -> list[dict[str, object]]:
        """The `count` access-log entries written after byte `since`.

        nginx writes an entry after its answer went out: wait for them to land.
        """
        deadline = time.monotonic() + 10
        while True:
            with self.nginx.paths.access_log.open("rb") as log:
                log.seek(since)
                entries = [json.loads(line) for line in log.read().splitlines()]
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)

    def log_size(self) -> int:
        return self.nginx.paths.access_log.stat().st_size


def bearer(login: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def edge_config(root: Path, gateways: list[Gateway], **edge: object) -> Config:
    return loopback_edge(
        root / "edge",
        worker_processes=1,
        proxy_timeout=3,  # how long a request waits on the hung gateway
        upstreams=[g.url.removeprefix("http://") for g in gateways],
        **edge,
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    copy_shop(root)
    with ExitStack() as stack:
        gateways = [
            stack.enter_context(
                running_gateway(root, extra=ONE_PROCESS, log_name=f"gateway-{n}.log")
            )
            for n in "ab"
        ]
        for gateway in gateways:  # warm: each answers a first read at its usual speed
            with gateway.client() as client:
                auth = bearer(client.post("/auth/login", json=LOGIN))
                assert client.get(RECORDS, headers=auth).status_code == 200
        # No failure accounting: round robin keeps sending every other request to each.
        config = edge_config(root, gateways, upstream_max_fails=0)
        nginx = Nginx(config)
        try:
            # `local` is not among the upstreams: its port does not matter.
            nginx.apply(render(config, upstream_port=1, web_root=None))
            nginx.start()
            yield Fleet(gateways, config, nginx)
        finally:
            nginx.stop()


def test_a_hung_gateway_costs_reads_nothing_and_no_upsert_is_replayed(fleet: Fleet) -> None:
    hung = fleet.gateways[0]
    auth = fleet.token()
    since = fleet.log_size()
    os.kill(hung.process.pid, signal.SIGSTOP)
    try:
        with fleet.client() as client:
            reads = [client.get(RECORDS, headers=auth).status_code for _ in range(2)]
            upserts = []
            for _ in range(3):  # until one lands on the hung gateway
                body = {"records": [{"require": {"name": "Apple"}, "fields": {"price": 1.2}}]}
                upserts.append(client.put(RECORDS, json=body, headers=auth).status_code)
                if upserts[-1] == 504:
                    break
    finally:
        os.kill(hung.process.pid, signal.SIGCONT)
    assert reads == [200, 200]
    assert upserts[-1] == 504 and set(upserts[:-1]) <= {200}
    entries = fleet.log(since, len(reads) + len(upserts))
    passed_on = [e for e in entries if e["method"] == "GET" and "," in str(e["upstream"])]
    assert passed_on, "a read should have been passed on from the hung gateway"
    assert all("," not in str(e["upstream"]) for e in entries if e["method"] == "PUT"), (
        "an upsert was replayed on another gateway"
    )


def test_a_killed_gateway_is_taken_out_and_requests_keep_succeeding(fleet: Fleet) -> None:
    """With passive health checks on, the dead gateway is tried once, then left alone.

    It dies holding a refresh it received and never answered (it was stopped first): the
    edge passes that refresh on to the other gateway, and the client sees a new pair.
    """
    health = {"upstream_max_fails": 1, "upstream_fail_timeout": 60}
    config = fleet.config.model_copy(update={"edge": fleet.config.edge.model_copy(update=health)})
    assert fleet.nginx.apply(render(config, upstream_port=1, web_root=None))
    dead = fleet.gateways[1]
    with fleet.client() as client:
        token = client.post("/auth/login", json=LOGIN).json()["refresh_token"]
    since = fleet.log_size()
    os.kill(dead.process.pid, signal.SIGSTOP)
    sent = 0
    with ThreadPoolExecutor(1) as pool, fleet.client() as client:
        while sent < 3:  # round robin: one of the first two lands on the stopped gateway
            sent += 1
            pending = pool.submit(client.post, "/auth/refresh", json={"refresh_token": token})
            try:  # within proxy_timeout (3 s), or nginx gives up on it with a 504
                token = pending.result(timeout=2).json()["refresh_token"]
            except FutureTimeout:
                break
        dead.process.kill()
        dead.process.wait()
        refreshed = pending.result(timeout=30)
    assert refreshed.status_code == 200, refreshed.text
    entries = fleet.log(since, sent)
    assert any(
        e["uri"] == "/auth/refresh" and e["status"] == 200 and "," in str(e["upstream"])
        for e in entries
    ), "the refresh held by the dead gateway was not passed on"
    auth = fleet.token()  # the dead gateway is out: the login goes to the other one
    with fleet.client() as client:
        reads = [client.get(RECORDS, headers=auth).status_code for _ in range(10)]
    assert reads == [200] * 10
    tried_dead = [
        e
        for e in fleet.log(since, sent + 1 + len(reads))
        if fleet.address(dead) in str(e["upstream"])
    ]
    assert len(tried_dead) == 1  # the refresh it held
