"""Blue-green deploys with real nginx, real slot venvs and real gateway processes.

Releases are wheels of the current tree, written directly as wheel archives
(no build backend needed) and installed into venvs that see the system's
packages, so no dependency is downloaded. The bad releases are the same wheel
with a few lines appended to the gateway's app factory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from gristops.cli.users_cmd import add_user
from gristops.config import Config, load_config
from gristops.deploy import slots
from gristops.deploy.deployer import Deployer
from gristops.deploy.dora import compute
from gristops.deploy.handover import accepting
from gristops.deploy.metrics import metric_families
from gristops.deploy.records import SLOTS, DeployRecords
from gristops.deploy.release import load_release
from gristops.deploy.slots import SlotPlace
from gristops.edge.nginx import Nginx
from gristops.runtime import pids
from gristops.state.db import StateDB
from tests.conftest import SHOP_GRIST
from tests.support.chaos_stage import ADMIN, run_chaos
from tests.support.wheel import build_wheel

pytestmark = pytest.mark.integration

FACTORY_WRAP = """

_release_factory = app_factory


def app_factory() -> FastAPI:  # a test release: {why}
    from fastapi.responses import JSONResponse
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    async def fault(request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.startswith("{prefix}"):
            return JSONResponse({{"error": "injected"}}, status_code={status})
        return await call_next(request)

    app = _release_factory()
    # Innermost, so the gateway's own metrics count these answers.
    app.user_middleware.append(Middleware(BaseHTTPMiddleware, dispatch=fault))
    return app
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Env:
    config: Config
    deployer: Deployer
    records: DeployRecords
    good: list[Path]
    not_ready: Path
    errors_500: Path

    @property
    def edge(self) -> str:
        return f"https://127.0.0.1:{self.config.edge.https_port}"

    def stop_all(self) -> None:
        # nginx first: a stopping slot waits for nginx to drop its idle pooled connections
        # (edge/render.py, UPSTREAM_IDLE_SECONDS); with nginx gone there are none to wait for.
        Nginx(self.config).stop()
        for name in SLOTS:
            slots.stop(self.config, SlotPlace.of(self.config, name))


REQUESTS = (
    ("GET", "/health"),
    ("GET", "/api/docs/Shop/tables/Products/records"),
    ("POST", "/api/docs/Shop/tables/Products/records"),  # never replayed by nginx
)


@dataclass
class Traffic:
    """Client loops through nginx that never retry, POSTs included, like many app HTTP
    clients: a failure is a transport error or an unexpected status."""

    base: str
    clients: int = 4
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    expected: frozenset[int] = frozenset({200, 401})

    def _loop(self) -> None:
        body = {"records": [{"fields": {"Name": "x"}}]}
        with httpx.Client(verify=False, timeout=10.0) as client:
            for _ in range(100_000):  # bounded; ends when told
                if self.stop.is_set():
                    return
                for method, path in REQUESTS:
                    try:
                        json = body if method == "POST" else None
                        status = client.request(method, f"{self.base}{path}", json=json).status_code
                    except httpx.HTTPError as exc:
                        self.failures.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                        continue
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status in self.expected:
                        self.ok += 1
                    else:
                        self.failures.append(f"{method} {path}: {status}")
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self.threads = [threading.Thread(target=self._loop) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("deploy")
    (root / "data" / "docs").mkdir(parents=True)
    shutil.copyfile(SHOP_GRIST, root / "data" / "docs" / "Shop.grist")
    settings = {
        "data_dir": str(root / "data"),
        "grist": {"document_id": "Shop"},
        # One worker a slot keeps these deploys quick on a busy machine; a slot with two
        # runs in test_slot_workers.py.
        "server": {"graceful_timeout": 5, "workers": 1},
        "edge": {
            "listen_address": "127.0.0.1",
            "http_port": free_port(),
            "https_port": free_port(),
            "worker_user": "root",
        },
        "deploy": {
            "port": free_port(),
            "blue_port": free_port(),
            "green_port": free_port(),
            "watch_seconds": 1.5,
            "ready_timeout": 12,  # a shared 2-core machine can take seconds to import
            "system_site_packages": True,
            "smoke": [{"path": "/health"}, {"path": "/api/docs/Shop/tables", "status": 401}],
        },
    }
    (root / "gristops.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(root / "gristops.yaml")
    state = StateDB(config.state_path)
    wrap = "gristops/gateway/app.py"
    env = Env(
        config=config,
        deployer=Deployer(config, state),
        records=DeployRecords(state),
        good=[
            build_wheel(root / "r1"),
            build_wheel(root / "r2", {"gristops/__init__.py": "\n# release 2\n"}),
        ],
        not_ready=build_wheel(
            root / "not-ready",
            {wrap: FACTORY_WRAP.format(why="never ready", prefix="/ready", status=503)},
        ),
        errors_500=build_wheel(
            root / "errors",
            {
                wrap: FACTORY_WRAP.format(
                    why="records answer 500", prefix="/api/docs/Shop/tables/", status=500
                )
            },
        ),
    )
    try:
        first = env.deployer.deploy(load_release(env.good[0]), actor="tests")
        assert first.outcome == "success", first.reason
        yield env
    finally:
        env.stop_all()


def _active_release(env: Env) -> str | None:
    active = env.records.active()
    return active.release_id if active else None


def test_deploys_under_load_fail_no_request_of_clients_that_never_retry(env: Env) -> None:
    releases = [load_release(w) for w in env.good]
    nginx = Nginx(env.config)
    master = nginx.pid()
    assert master is not None
    workers = pids.children(master)
    with Traffic(env.edge) as traffic:
        for n in range(4):
            wanted = releases[(n + 1) % 2]
            result = env.deployer.deploy(wanted, actor="tests")
            assert result.outcome == "success", result.reason
            assert _active_release(env) == wanted.id
            active = env.records.active()
            assert active is not None
            live = {name: accepting(SlotPlace.of(env.config, name)) for name in SLOTS}
            assert live == {name: name == active.slot for name in SLOTS}
    assert traffic.failures == []
    assert traffic.ok > 100
    assert pids.children(master) == workers  # nginx was not reloaded


def test_same_release_again_is_a_no_op(env: Env) -> None:
    active = env.records.active()
    assert active is not None
    current = next(w for w in env.good if load_release(w).id == active.release_id)
    before = len(env.records.history())
    assert env.deployer.deploy(load_release(current), actor="tests").outcome == "unchanged"
    assert len(env.records.history()) == before


def test_release_failing_ready_never_gets_traffic(env: Env) -> None:
    before = _active_release(env)
    bad = load_release(env.not_ready)
    # It never gets ready: a short wait is enough to tell.
    impatient = env.config.model_copy(
        update={"deploy": env.config.deploy.model_copy(update={"ready_timeout": 4})}
    )
    with Traffic(env.edge, clients=2) as traffic:
        result = Deployer(impatient, env.records.state).deploy(bad, actor="tests")
    assert result.outcome == "failed"
    assert "/ready" in (result.reason or "")
    assert _active_release(env) == before
    entry = env.records.history(limit=1)[0]
    assert entry.switched_at is None and entry.outcome == "failed"
    assert traffic.failures == [] and 503 not in traffic.statuses
    assert not slots.running(SlotPlace.of(env.config, result.slot or "blue"))


def test_release_answering_500s_is_rolled_back_within_the_watch(env: Env) -> None:
    before = _active_release(env)
    bad = load_release(env.errors_500)
    with Traffic(env.edge, clients=2, expected=frozenset({200, 401, 500})) as traffic:
        result = env.deployer.deploy(bad, actor="tests")
    assert result.outcome == "rolled_back"
    assert traffic.failures == []  # the bad release's own 500s aside, switching back is unseen
    assert "error rate" in (result.reason or "")
    assert _active_release(env) == before
    # Users are served by the previous release again.
    answer = httpx.get(f"{env.edge}/api/docs/Shop/tables/Products/records", verify=False)
    assert answer.status_code == 401


def test_chaos_new_slot_killed_in_watch_switches_back_and_no_request_fails(env: Env) -> None:
    """The slot-killed-in-watch chaos experiment (shortened; full length with
    GRISTOPS_CHAOS_FULL=1, `make chaos`) through nginx on these slots."""
    before = _active_release(env)
    wanted = next(w for w in env.good if load_release(w).id != before)  # installed: a quick deploy
    add_user(env.config, ADMIN[0], "admin", ADMIN[1])
    variables = {
        "gateway_url": env.edge,
        "email": ADMIN[0],
        "doc_id": "Shop",
        "table": "Products",
        "column": "name",
        "deploy_config": str(env.config.data_dir.parent / "gristops.yaml"),
        "release": str(wanted),
        "gristops": f"{sys.executable} -m gristops",
        # Past the edge check on a quiet machine, well before the end of the 1.5 s watch.
        "kill_after": 0.8,
    }
    full = os.environ.get("GRISTOPS_CHAOS_FULL", "") not in ("", "0")
    outcome = run_chaos("slot-killed-in-watch", variables, short=not full)
    figures = outcome["figures"]
    print(f"\nslot-killed-in-watch figures: {json.dumps(figures, sort_keys=True)}")
    assert outcome["passed"], f"{outcome['problems']}\n{outcome['stderr']}"
    assert outcome["activities"]["deploy-and-kill-new-slot"] == "succeeded"
    deploy = outcome["outputs"]["deploy-and-kill-new-slot"]
    print(f"deploy: {json.dumps(deploy, sort_keys=True)}")
    # The watch saw the new gateway die (its /metrics refused, or a restarted pid), or on a
    # slow machine the check through nginx still under way did; the reason names the step.
    assert deploy["outcome"] == "rolled_back"
    assert deploy["reason"].startswith(("watching live traffic", "verifying through nginx"))
    assert outcome["steady_state_before"] and outcome["steady_state_after"]
    assert figures["reads_failed"] == figures["writes_failed"] == 0
    assert figures["writes_ok"] and figures["reads"]
    assert _active_release(env) == before
    entry = env.records.history(limit=1)[0]
    assert entry.outcome == "rolled_back" and entry.switched_at is not None


def test_kill_9_of_the_active_slot_is_restarted(env: Env) -> None:
    active = env.records.active()
    assert active is not None
    place = SlotPlace.of(env.config, active.slot)
    victim = pids.read_pid(place.serve_pid)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        replacement = pids.read_pid(place.serve_pid)
        if replacement not in (None, victim):
            try:
                if httpx.get(f"{env.edge}/health", verify=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, "the slot was not restarted"
        time.sleep(0.1)
    assert int(place.restarts.read_text()) >= 1


def test_rollback_restores_the_previous_release_and_counts_as_a_failed_change(env: Env) -> None:
    installed = env.records.slots()
    active = env.records.active()
    assert active is not None
    previous = next(r for r in installed.values() if not r.active)
    result = env.deployer.rollback(actor="tests")
    assert result.outcome == "success"
    assert _active_release(env) == previous.release_id
    dora = compute(env.records)
    assert dora.change_failure_rate is not None and dora.change_failure_rate > 0
    assert dora.recovery_time_seconds is not None
    families = {f.name: f for f in metric_families(env.config, env.records.state)}
    outcomes = {s.labels["outcome"]: s.value for s in families["gristops_deploys"].samples}
    assert outcomes["rolled_back"] >= 1 and outcomes["failed"] >= 1 and outcomes["success"] >= 5
    slot_info = families["gristops_deploy_active_slot_info"].samples[0].labels
    assert slot_info == {"slot": previous.slot, "release": previous.release_id}
