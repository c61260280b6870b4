"""Switch traffic between slots without touching nginx, and check what users see.

nginx's upstream is the slots' shared socket (handover.py), the same for every
release, and its web root is a link swapped atomically; so a deploy or a
rollback renders the same nginx.conf and nginx is not reloaded. It is only
when the render changes: the first deploy (from `gristops serve`'s port to the
slots' socket), or a release that adds or drops a web app.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from gristops.config import Config
from gristops.deploy.handover import set_live
from gristops.deploy.probe import GateFailed, TrafficSample, scrape, smoke, wait_ready
from gristops.deploy.records import DeployRecords
from gristops.deploy.slots import SlotPlace
from gristops.edge.nginx import Nginx, render
from gristops.runtime import pids
from gristops.state.db import StateDB

WATCH_POLL = 0.5


def edge_url(config: Config) -> str:
    """The edge's HTTPS address as seen from this machine."""
    address = config.edge.listen_address
    host = "127.0.0.1" if address in ("*", "0.0.0.0") else address  # noqa: S104 - a listen value
    return f"https://{host}:{config.edge.https_port}"


def web_link(config: Config) -> Path:
    """The web root nginx serves while slots run: a link to the live release's bundle."""
    return config.data_dir.resolve() / "deploy" / "web"


def _link_web(config: Config, web_root: Path | None) -> Path | None:
    """Point the web link at `web_root` (else edge.web_root) in one rename; None: no web app."""
    target = web_root or config.edge.web_root
    link = web_link(config)
    if target is None:
        link.unlink(missing_ok=True)
        return None
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".web.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.resolve())
    os.replace(tmp, link)
    return link


def switch_to(
    config: Config, place: SlotPlace, web_root: Path | None, previous: SlotPlace | None
) -> None:
    """Give traffic to `place`: its gateway accepts on the shared socket, then `previous`
    stops (finishing what it holds); the web link follows. Starts nginx if it is down."""
    link = _link_web(config, web_root)
    set_live(place, True)
    if previous is not None:
        set_live(previous, False)
    nginx = Nginx(config)
    nginx.apply(render(config, upstream_port=config.deploy.port, web_root=link))
    if not nginx.running():
        nginx.start()


def verify_edge(config: Config) -> None:
    """/ready and the smoke requests answer as expected through nginx."""
    # Our own nginx on loopback, whose certificate may be the self-signed bootstrap one.
    wait_ready(edge_url(config), timeout=10.0, verify=False)
    smoke(edge_url(config), config.deploy.smoke, verify=False)


def _judge(config: Config, window: TrafficSample) -> None:
    d = config.deploy
    if window.requests < d.watch_min_requests:
        return
    rate = window.errors / window.requests
    if rate > d.max_error_rate:
        raise GateFailed(
            f"error rate {rate:.1%} over {window.requests:.0f} requests is above "
            f"deploy.max_error_rate {d.max_error_rate:.1%}"
        )
    p95 = window.p95()
    if p95 > d.max_p95_seconds:
        raise GateFailed(
            f"p95 latency {p95:.3f} s is above deploy.max_p95_seconds {d.max_p95_seconds:g} s"
        )


def watch(config: Config, place: SlotPlace) -> None:
    """Watch live traffic on the slot for deploy.watch_seconds; GateFailed on a breach."""
    seconds = config.deploy.watch_seconds
    if seconds <= 0:
        return
    gateway_pid = pids.read_pid(place.serve_pid)
    start = scrape(place.url())
    deadline = time.monotonic() + seconds
    while True:
        time.sleep(max(0.0, min(WATCH_POLL, deadline - time.monotonic())))
        try:
            window = scrape(place.url()).since(start)
        except httpx.HTTPError as exc:
            raise GateFailed(f"the new gateway stopped answering its /metrics: {exc}") from None
        if pids.read_pid(place.serve_pid) != gateway_pid or window.requests < 0:
            raise GateFailed("the new gateway crashed and was restarted during the watch window")
        _judge(config, window)
        if time.monotonic() >= deadline:
            return


def current_target(config: Config, state: StateDB | None) -> tuple[int, Path | None]:
    """Where the edge should send traffic now: the slots' socket, else `gristops serve`'s port.

    `state` None: no state DB yet, so nothing was ever deployed.
    """
    if state is None or DeployRecords(state).active() is None:
        return config.server.port, config.edge.web_root
    link = web_link(config)
    return config.deploy.port, link if link.is_symlink() else None
