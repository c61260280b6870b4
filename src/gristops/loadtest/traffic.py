"""The virtual user: a Locust FastHttpUser that behaves like an app of the plan's scenarios.

Imported only by the runner process (Locust monkey-patches the standard library
with gevent). Every request is named after its scenario so Locust's statistics
are per scenario; any 4xx/5xx or connection error counts as a failure.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import gevent.ssl
from locust import FastHttpUser, between

from gristops.loadtest.plan import (
    CreateScenario,
    ListScenario,
    Plan,
    RecordScenario,
    Scenario,
    UpdateScenario,
)

SESSION_LOGIN = "login (new session)"  # a user's login at its start, or after a failed one
RETRY_SECONDS = 5.0
Task = Callable[["AppUser"], object]


def query_string(query: dict[str, Any]) -> str:
    """URL query of a list scenario: mappings and lists (a Grist filter) are sent as JSON."""
    flat = {
        key: json.dumps(value) if isinstance(value, dict | list) else str(value)
        for key, value in query.items()
    }
    return f"?{urlencode(flat)}" if flat else ""


class AppUser(FastHttpUser):
    """One app session: logs in at start, then runs weighted scenarios with think time."""

    abstract = True
    plan: Plan
    password: str

    def on_start(self) -> None:
        self.access = ""
        self.refresh_token = ""
        self.retry_at = 0.0
        self.new_session()

    def new_session(self) -> None:
        """Log in for a (new) session; after a failure, not again for RETRY_SECONDS.

        A failed login (refused, timed out) leaves the user without a token: like an
        app, it backs off, then logs in again instead of sending requests bound to fail.
        """
        if time.monotonic() >= self.retry_at and not self.sign_in(SESSION_LOGIN):
            self.retry_at = time.monotonic() + RETRY_SECONDS

    def sign_in(self, name: str) -> bool:
        body = {"email": self.plan.login.email, "password": self.password}
        return self._keep_tokens(self.client.post("/auth/login", json=body, name=name))

    def _keep_tokens(self, response: Any) -> bool:
        if response.status_code != 200:
            return False
        tokens = response.json()
        self.access, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        return True

    def refresh(self, name: str) -> None:
        if not self.refresh_token:  # spent by a refresh that failed: the app logs in again
            self.new_session()
            return
        body = {"refresh_token": self.refresh_token}
        self.refresh_token = ""  # single use, whatever the answer
        self._keep_tokens(self.client.post("/auth/refresh", json=body, name=name))

    def records(self, table: str) -> str:
        return f"/api/docs/{quote(self.plan.document)}/tables/{quote(table)}/records"

    def send(self, method: str, path: str, name: str, body: Any = None) -> None:
        if not self.access:
            self.new_session()
            return
        headers = {"Authorization": f"Bearer {self.access}"}
        self.client.request(method, path, name=name, headers=headers, json=body)


def _pick(ids: tuple[int, ...]) -> int:
    return random.choice(ids)  # noqa: S311 - which record to ask for, not a secret


def _task(name: str, scenario: Scenario) -> Task:
    """The function Locust calls for one scenario (it passes the user)."""
    match scenario:
        case ListScenario(table=table, query=query):
            return lambda user: user.send("GET", user.records(table) + query_string(query), name)
        case RecordScenario(table=table, ids=ids):
            return lambda user: user.send("GET", f"{user.records(table)}/{_pick(ids)}", name)
        case CreateScenario(table=table, fields=fields):
            body = {"records": [{"fields": fields}]}
            return lambda user: user.send("POST", user.records(table), name, body)
        case UpdateScenario(table=table, ids=ids, fields=fields):
            return lambda user: user.send(
                "PATCH", user.records(table), name,
                {"records": [{"id": _pick(ids), "fields": fields}]},
            )  # fmt: skip
        case _ if scenario.kind == "login":
            return lambda user: user.sign_in(name)
        case _:
            return lambda user: user.refresh(name)


def user_class(plan: Plan, host: str, password: str, ca_file: str | None) -> type[AppUser]:
    """An AppUser subclass for this plan and target (Locust configures users by class)."""

    def verified_tls() -> Any:  # gevent's SSLContext
        return gevent.ssl.create_default_context(cafile=ca_file)

    attributes: dict[str, Any] = {
        "abstract": False,
        "host": host,
        "plan": plan,
        "password": password,
        "tasks": {_task(name, s): s.weight for name, s in plan.scenarios.items()},
        "wait_time": between(*plan.think_time),
        "network_timeout": plan.request_timeout,
        "connection_timeout": plan.request_timeout,
        "insecure": False,  # FastHttpUser skips certificate checks unless told otherwise
        "ssl_context_factory": staticmethod(verified_tls),
    }
    return type("PlanUser", (AppUser,), attributes)
