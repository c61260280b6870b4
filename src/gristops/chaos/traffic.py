"""Traffic during an experiment: concurrent reads and writes, every outcome recorded.

Not a load tool (that is `gristops loadtest`): a few clients that keep the
gateway busy while a fault is injected, and keep per-request detail (when it
started, how long it took, its status and Retry-After, the marker each write
carried) because the experiments' checks are about individual requests: did
any write hang, is every acknowledged write in the document exactly once.
A watcher samples Grist's /status, the gateway's /ready and its breaker metric
at the same time, so the checks can tell when the outage began and ended.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

import httpx

Kind = Literal["read", "write"]
CLIENT_TIMEOUT = 60.0  # far above any bound checked: a hang shows as latency, not a client error
WATCH_EVERY = 0.2
WATCH_TIMEOUT = 1.0
BREAKER_METRIC = "gristops_grist_breaker_open"
NO_ANSWER_STATUS = 502  # nginx: the gateway closed the connection without an answer


@dataclass(frozen=True)
class Target:
    """Where the traffic goes: a gateway, a login, and a table with a text column to write."""

    gateway_url: str
    email: str
    password: str
    doc_id: str
    table: str
    column: str
    grist_url: str | None = None  # watched when set: Grist's own /status
    # With Grist's API key, Grist counts as back once it serves the document again (after a
    # restart it loads it first, which takes seconds), not as soon as /status answers.
    grist_api_key: str | None = None
    verify: bool = True  # False for our own nginx edge, whose certificate may be self-signed

    def records_path(self) -> str:
        return f"/api/docs/{self.doc_id}/tables/{self.table}/records"


@dataclass(frozen=True)
class Outcome:
    """One request: start (seconds since the run began), latency, status (0: no answer)."""

    kind: Kind
    start: float
    latency: float
    status: int
    retry_after: str | None = None
    error: str = ""
    marker: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def end(self) -> float:
        return self.start + self.latency


@dataclass(frozen=True)
class Sample:
    """One look at the services: Grist's /status (0: refused, -1: no answer in time, None:
    not watched), /ready's status, the breaker metric."""

    at: float
    grist_status: int | None
    ready_status: int
    breaker_open: float | None


@dataclass
class Traffic:
    """What a run recorded."""

    outcomes: list[Outcome] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    retries: dict[str, int] = field(default_factory=dict)  # sent again (Plan.retries), by kind


@dataclass(frozen=True)
class Plan:
    """How much traffic: clients, how long, every how many requests one is a write.

    `write_every` 0 sends reads only. `retries`: how many times a client sends a
    request again when the connection closed without an answer (a transport error, or
    nginx's 502 for it), as browsers do (RFC 9112 §9.3.1); each is counted. The run lasts `seconds`; when Grist is
    watched, also until it answers again and a write has succeeded since, then
    `settle` seconds more (up to `max_seconds`), so that recovery is observed.
    """

    clients: int
    seconds: float
    write_every: int = 4
    settle: float = 0.0
    max_seconds: float = 120.0
    retries: int = 0


async def login(client: httpx.AsyncClient, target: Target) -> str:
    answer = await client.post(
        "/auth/login", json={"email": target.email, "password": target.password}
    )
    if answer.status_code != 200:
        raise RuntimeError(
            f"login as {target.email} failed: HTTP {answer.status_code} {answer.text}"
        )
    return str(answer.json()["access_token"])


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


class _Run:
    def __init__(self, target: Target, plan: Plan, client: httpx.AsyncClient) -> None:
        self.target = target
        self.plan = plan
        self.client = client
        self.traffic = Traffic()
        self.run_id = secrets.token_hex(4)
        self.t0 = time.monotonic()
        self.stop = asyncio.Event()
        self.grist_back_at: float | None = None
        self.recovered_at: float | None = None
        self.gateway_state: tuple[int, float | None] = (0, None)

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def request(self, kind: Kind, number: int, headers: dict[str, str]) -> None:
        marker = f"chaos-{self.run_id}-{number}" if kind == "write" else None
        path = self.target.records_path()
        start = self.now()
        for attempt in range(self.plan.retries + 1):
            if attempt:
                self.traffic.retries[kind] = self.traffic.retries.get(kind, 0) + 1
            try:
                if kind == "write":
                    body = {"records": [{"fields": {self.target.column: marker}}]}
                    answer = await self.client.post(path, json=body, headers=headers)
                else:
                    answer = await self.client.get(path, params={"limit": "20"}, headers=headers)
            except httpx.HTTPError as exc:
                outcome = Outcome(kind, start, self.now() - start, 0, error=type(exc).__name__)
                continue
            error = "" if answer.is_success else answer.text[:200]
            outcome = Outcome(
                kind, start, self.now() - start, answer.status_code,
                answer.headers.get("retry-after"), error, marker,
            )  # fmt: skip
            if answer.status_code != NO_ANSWER_STATUS:
                break
        self.traffic.outcomes.append(outcome)
        back = self.grist_back_at
        if outcome.ok and kind == "write" and back is not None and outcome.start > back:
            self.recovered_at = self.recovered_at or outcome.end

    async def client_loop(self, index: int, headers: dict[str, str]) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            write = self.plan.write_every > 0 and count % self.plan.write_every == 0
            await self.request("write" if write else "read", index * 1_000_000 + count, headers)

    async def watch(self) -> None:
        """Sample Grist and the gateway on their own clocks (a slow /ready must not hide
        Grist coming back); each sample carries the latest of both."""
        gateway = asyncio.create_task(self._watch_gateway())
        was_up = True
        while not self.stop.is_set():
            status: int | None = None
            if self.target.grist_url is not None:
                try:
                    answer = await self._grist_check()
                    status = answer.status_code
                except httpx.ConnectError:
                    status = 0  # nothing listens: the process is gone
                except httpx.HTTPError:
                    status = -1  # listening but silent (stopped, starting, overloaded)
                if status == 200 and not was_up:
                    self.grist_back_at = self.now()
                    self.recovered_at = None
                was_up = status == 200
            ready, breaker = self.gateway_state
            self.traffic.samples.append(Sample(self.now(), status, ready, breaker))
            await asyncio.sleep(WATCH_EVERY)
        await gateway

    async def _watch_gateway(self) -> None:
        while not self.stop.is_set():
            self.gateway_state = await self._gateway_state()
            await asyncio.sleep(WATCH_EVERY)

    async def _grist_check(self) -> httpx.Response:
        url, key = self.target.grist_url, self.target.grist_api_key
        if key is None:
            return await self.client.get(f"{url}/status", timeout=WATCH_TIMEOUT)
        return await self.client.get(
            f"{url}{self.target.records_path()}",
            params={"limit": "1"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=WATCH_TIMEOUT,
        )

    async def _gateway_state(self) -> tuple[int, float | None]:
        try:
            ready = (await self.client.get("/ready", timeout=10)).status_code
            metrics = await self.client.get("/metrics", timeout=WATCH_TIMEOUT * 5)
            return ready, _metric(metrics.text, BREAKER_METRIC)
        except httpx.HTTPError:
            return 0, None

    async def timer(self) -> None:
        plan = self.plan
        while self.now() < plan.max_seconds:
            settled = self.grist_back_at is None or (
                self.recovered_at is not None and self.now() - self.recovered_at >= plan.settle
            )
            last = self.traffic.samples[-1].grist_status if self.traffic.samples else None
            down = last is not None and last != 200
            if self.now() >= plan.seconds and settled and not down:
                break
            await asyncio.sleep(0.1)
        self.stop.set()


async def drive(target: Target, plan: Plan) -> Traffic:
    """Send the planned traffic to `target`; every request's outcome and the watcher's samples."""
    async with httpx.AsyncClient(
        base_url=target.gateway_url,
        timeout=CLIENT_TIMEOUT,
        trust_env=False,
        verify=target.verify,
        limits=httpx.Limits(max_connections=plan.clients + 4),
    ) as client:
        headers = {"Authorization": f"Bearer {await login(client, target)}"}
        run = _Run(target, plan, client)
        tasks = [run.client_loop(i, headers) for i in range(plan.clients)]
        await asyncio.gather(run.timer(), run.watch(), *tasks)
        run.traffic.seconds = run.now()
        return run.traffic


async def stored_markers(target: Target, prefix: str = "chaos-") -> list[str]:
    """Every marker in the target's column (read through the gateway once it answers)."""
    async with httpx.AsyncClient(
        base_url=target.gateway_url, timeout=CLIENT_TIMEOUT, trust_env=False, verify=target.verify
    ) as client:
        headers = {"Authorization": f"Bearer {await login(client, target)}"}
        answer = await client.get(target.records_path(), headers=headers)
        answer.raise_for_status()
        values = (r["fields"].get(target.column) for r in answer.json()["records"])
        return [v for v in values if isinstance(v, str) and v.startswith(prefix)]
