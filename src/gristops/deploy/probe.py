"""Health gates of a deploy: /ready, smoke requests, a load test, and live-traffic health."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gristops.config.deploy import SmokeCheck
from gristops.errors import ConfigError
from gristops.loadtest.launch import Target, run_plan
from gristops.loadtest.plan import Plan, load_plan
from gristops.loadtest.verdict import judge

REQUESTS = "gristops_http_requests"
DURATION = "gristops_http_request_duration_seconds"
# Probes and scrapes are not user traffic: they would dilute the error rate.
NOT_TRAFFIC = frozenset({"/metrics", "/health", "/ready"})


class GateFailed(Exception):
    """A health gate said no; the message says which and why."""


def wait_ready(base_url: str, timeout: float, *, verify: bool = True) -> None:
    """Poll `base_url`/ready until it answers 200; GateFailed with its last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=5.0, verify=verify) as client:
        while True:
            try:
                response = client.get(f"{base_url}/ready")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise GateFailed(f"/ready did not answer 200 within {timeout:g} s (last: {last})")
            time.sleep(0.1)


def smoke(base_url: str, checks: tuple[SmokeCheck, ...], *, verify: bool = True) -> None:
    """Each smoke request must answer its expected status; GateFailed names the first that did not."""
    with httpx.Client(timeout=10.0, verify=verify) as client:
        for check in checks:
            try:
                status = client.get(f"{base_url}{check.path}").status_code
            except httpx.HTTPError as exc:
                raise GateFailed(f"smoke GET {check.path} failed: {exc}") from None
            if status != check.status:
                raise GateFailed(f"smoke GET {check.path} answered {status}, not {check.status}")


def gate_plan(path: Path) -> Plan:
    """The deploy's load-test plan, checked before anything is installed: reads only."""
    plan = load_plan(path)
    writes = plan.writes()
    if writes:
        raise ConfigError(
            f"deploy.loadtest: {path} writes ({', '.join(writes)}) and the new slot serves "
            "the live document",
            "give the gate a plan of reads, logins and refreshes only",
        )
    return plan


def load_gate(base_url: str, plan: Plan, name: str) -> None:
    """Run the plan against the new slot; GateFailed lists the thresholds it missed."""
    result = judge(run_plan(plan, Target(base_url), plan_name=name), plan.thresholds)
    failed = result.failed()
    if failed:
        raise GateFailed("load test failed: " + "; ".join(check.describe() for check in failed))


@dataclass(frozen=True)
class TrafficSample:
    """Cumulative user-traffic counts of one gateway, from its /metrics."""

    requests: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ascending

    def since(self, earlier: TrafficSample) -> TrafficSample:
        before = dict(earlier.buckets)
        return TrafficSample(
            self.requests - earlier.requests,
            self.errors - earlier.errors,
            tuple((le, count - before.get(le, 0.0)) for le, count in self.buckets),
        )

    def p95(self) -> float:
        """The 95th percentile, interpolated within its bucket like Prometheus does."""
        total = self.buckets[-1][1] if self.buckets else 0.0
        if total <= 0:
            return 0.0
        rank = 0.95 * total
        lower, below = 0.0, 0.0
        for upper, count in self.buckets:
            if count >= rank:
                if upper == float("inf"):
                    return lower
                return lower + (upper - lower) * (rank - below) / max(count - below, 1e-9)
            lower, below = upper, count
        return lower


def scrape(base_url: str) -> TrafficSample:
    """The gateway's traffic counters now (httpx.HTTPError if it does not answer)."""
    response = httpx.get(f"{base_url}/metrics", timeout=5.0)
    response.raise_for_status()
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.labels.get("route") in NOT_TRAFFIC:
                continue
            if family.name == REQUESTS and sample.name.endswith("_total"):
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif family.name == DURATION and sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return TrafficSample(requests, errors, tuple(sorted(buckets.items())))
