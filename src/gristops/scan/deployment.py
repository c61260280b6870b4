"""Checks of the running deployment at --url: headers, exposed endpoints, authentication, throttling.

TLS itself is checked in `tls.py` (sslyze). Endpoints meant for this host only
(/metrics, the API docs) are requested from a non-loopback address of this
host when the URL points here, so the edge sees what an outside client would.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gristops.config import Config
from gristops.errors import GristopsError
from gristops.scan.config import is_loopback
from gristops.scan.findings import Finding, Location, Rule, Severity

TIMEOUT = 10.0
# Routes for this host only: (path, rule) pairs checked from outside loopback.
PRIVATE_ROUTES = ("/metrics", "/api/docs", "/openapi.json")

MISSING_HEADER = Rule(
    "deployment.missing-header",
    Severity.MEDIUM,
    "A security header is missing from responses",
    "serve through the gristops edge (`gristops edge start`), which adds every security header",
)
SERVER_VERSION = Rule(
    "deployment.server-version",
    Severity.LOW,
    "The Server header discloses a version",
    "set `server_tokens off;` (the gristops edge does)",
)
PLAIN_HTTP = Rule(
    "deployment.plain-http",
    Severity.HIGH,
    "The deployment is served over plain HTTP beyond loopback",
    "serve HTTPS through the edge and scan its https:// URL",
)
METRICS_EXPOSED = Rule(
    "deployment.metrics-exposed",
    Severity.MEDIUM,
    "/metrics answers clients outside loopback",
    "let only 127.0.0.1 reach /metrics (the gristops edge allows loopback only)",
)
DOCS_EXPOSED = Rule(
    "deployment.api-docs-exposed",
    Severity.LOW,
    "The API documentation answers clients outside loopback",
    "let only 127.0.0.1 reach /api/docs and /openapi.json (the gristops edge does)",
)
UNAUTHENTICATED = Rule(
    "deployment.unauthenticated-route",
    Severity.HIGH,
    "A data route does not answer 401 without credentials",
    "every data route must depend on the bearer-token check; upgrade or fix the gateway",
)
NO_THROTTLING = Rule(
    "deployment.login-not-throttled",
    Severity.HIGH,
    "Login throttling did not engage after repeated wrong passwords",
    "check auth.max_failures_per_account and that every gateway shares one state DB",
)
RULES = (
    MISSING_HEADER,
    SERVER_VERSION,
    PLAIN_HTTP,
    METRICS_EXPOSED,
    DOCS_EXPOSED,
    UNAUTHENTICATED,
    NO_THROTTLING,
)
CREDENTIAL_EXCHANGE = frozenset({"/auth/login", "/auth/refresh", "/auth/logout"})
REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "",
    "x-frame-options": "",
}
# A throwaway account: a context manager giving (email, password) that removes it on exit.
AccountFactory = Callable[[], AbstractContextManager[tuple[str, str]]]


class DeploymentUnreachable(GristopsError):
    """The deployment does not answer as the checks need: they cannot run."""


@dataclass(frozen=True)
class Target:
    """The deployment to check and how to reach it."""

    url: str
    ca_file: Path | None = None
    outside_address: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def https(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    def client(self, local_address: str | None = None) -> httpx.Client:
        transport = httpx.HTTPTransport(verify=self.verify(), local_address=local_address)
        return httpx.Client(base_url=self.url.rstrip("/"), transport=transport, timeout=TIMEOUT)


def outside_address() -> str | None:
    """A non-loopback IPv4 address of this host (the default route's source), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP connect sends nothing: it only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if is_loopback(address) else address


def check_headers(target: Target) -> list[Finding]:
    """Security headers on an API answer (/health) and at /."""
    found: list[Finding] = []
    if not target.https and not is_loopback(target.host):
        found.append(Finding(PLAIN_HTTP, Location(url=target.url), "the URL is http://"))
    with target.client() as client:
        for path in ("/health", "/"):
            try:
                answer = client.get(path)
            except httpx.HTTPError as exc:
                raise DeploymentUnreachable(
                    f"{target.url}{path}: {exc}", "check --url and that the deployment runs"
                ) from exc
            url = f"{target.url.rstrip('/')}{path}"
            headers = answer.headers
            for name, value in REQUIRED_HEADERS.items():
                present = headers.get(name)
                if name == "x-frame-options" and "frame-ancestors" in headers.get(
                    "content-security-policy", ""
                ):
                    continue
                if present is None or (value and present.lower() != value):
                    shown = "absent" if present is None else f"{present!r}"
                    found.append(Finding(MISSING_HEADER, Location(url=url), f"{name}: {shown}"))
            server = headers.get("server", "")
            if re.search(r"/\d", server):
                found.append(Finding(SERVER_VERSION, Location(url=url), f"Server: {server}"))
    return found


def check_exposure(target: Target) -> tuple[list[Finding], str]:
    """Private routes requested from outside loopback; the detail says from where."""
    source = None
    if is_loopback(target.host) or target.host == target.outside_address:
        source = target.outside_address or outside_address()
        if source is None:
            return [], "skipped: this host has no non-loopback address to test from"
    found: list[Finding] = []
    with target.client(local_address=source) as client:
        for path in PRIVATE_ROUTES:
            try:
                answer = client.get(path)
            except httpx.HTTPError as exc:
                # Nothing listens there for outside clients: the route is not exposed.
                return [], f"not reachable from {source or 'this host'}: {exc}"
            if answer.status_code < 300:
                rule = METRICS_EXPOSED if path == "/metrics" else DOCS_EXPOSED
                url = f"{target.url.rstrip('/')}{path}"
                found.append(
                    Finding(
                        rule,
                        Location(url=url),
                        f"{answer.status_code} to a request from {source or 'this host'}",
                    )
                )
    return found, f"requested from {source or 'this host'}"


def _fill(path: str, config: Config) -> str:
    values = {"docId": config.grist.document_id, "tableId": config.auth.users_table, "rowId": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def protected_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation the API declares a 401 answer for, except those
    that take credentials in their body (login, refresh, logout)."""
    return [
        (method.upper(), path)
        for path, operations in openapi.get("paths", {}).items()
        if path not in CREDENTIAL_EXCHANGE
        for method, operation in operations.items()
        if isinstance(operation, dict) and "401" in operation.get("responses", {})
    ]


def check_authentication(target: Target, config: Config) -> tuple[list[Finding], str]:
    """Every operation that takes credentials, requested without them, must answer 401."""
    with target.client() as client:
        spec = client.get("/openapi.json")
        if spec.status_code != 200:
            return [], f"skipped: /openapi.json answered {spec.status_code}"
        operations = protected_operations(spec.json())
        found = []
        for method, path in operations:
            url = _fill(path, config)
            body: dict[str, list[Any]] | None = (
                {"records": []} if method in ("POST", "PATCH", "PUT") else None
            )
            answer = client.request(method, url, json=body)
            if answer.status_code != 401:
                found.append(
                    Finding(
                        UNAUTHENTICATED,
                        Location(url=f"{target.url.rstrip('/')}{url}"),
                        f"{method} without credentials answered {answer.status_code}",
                    )
                )
    return found, f"{len(operations)} operations requested without credentials"


def check_throttling(target: Target, config: Config, account: AccountFactory) -> list[Finding]:
    """Wrong passwords up to the account limit, then the right one: it must be refused (429)."""
    attempts = config.auth.max_failures_per_account
    with account() as (email, password), target.client() as client:
        for _ in range(attempts):
            client.post("/auth/login", json={"email": email, "password": password + "x"})
        answer = client.post("/auth/login", json={"email": email, "password": password})
    if answer.status_code == 429:
        if "application/json" not in answer.headers.get("content-type", ""):
            # The edge's per-address rate limit answered, not the gateway's account lockout.
            raise DeploymentUnreachable(
                "the edge's /auth/ rate limit refused the attempts before the gateway saw them",
                "scan again after a minute, or raise edge.auth_burst",
            )
        return []
    return [
        Finding(
            NO_THROTTLING,
            Location(url=f"{target.url.rstrip('/')}/auth/login"),
            f"after {attempts} wrong passwords the right one answered {answer.status_code}",
        )
    ]
