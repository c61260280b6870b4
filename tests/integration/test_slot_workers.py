"""A deploy slot's gateway runs as many workers as `serve` does, all on the shared socket.

A real `gristops serve` in slot mode (the way a slot's supervisor starts it: the
shared upstream socket inherited, a slot directory) with two workers: both take
traffic when the slot goes live, a killed one is replaced and goes live by
itself, and a stop waits for both to finish.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from gristops.deploy.handover import bind, set_live
from gristops.deploy.slots import SlotPlace
from gristops.gateway.slot_server import worker_ack
from gristops.runtime import pids
from tests.gateway_harness import copy_shop, free_port, start_slot_gateway, write_config

pytestmark = pytest.mark.integration


def _workers_say(place: SlotPlace, pid: int, state: str) -> list[int]:
    """The slot's workers once each of them has said `state`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = sorted(pids.children(pid))
        said = [worker_ack(place.root, w) for w in workers]
        if len(workers) == 2 and all(
            p.exists() and p.read_text().split() == [str(w), state]
            for p, w in zip(said, workers, strict=True)
        ):
            return workers
        time.sleep(0.1)
    raise AssertionError(f"the slot's two workers did not say {state}")


def test_a_slot_runs_every_worker_on_the_shared_socket_and_stops_when_all_drained(
    tmp_path: Path,
) -> None:
    copy_shop(tmp_path)
    config = write_config(tmp_path, "server: {workers: 2}\n")
    shared = bind(0)
    place = SlotPlace("blue", tmp_path / "slot", free_port())
    place.root.mkdir()
    serve = start_slot_gateway(tmp_path, config, place, shared)
    try:
        pids.write_pid(place.serve_pid, serve.pid)
        workers = _workers_say(place, serve.pid, "off")
        set_live(place, True, timeout=30)  # returns once the gateway said "on" for both
        assert _workers_say(place, serve.pid, "on") == workers
        url = f"http://127.0.0.1:{shared.getsockname()[1]}/health"
        for _ in range(20):  # a new connection each: the kernel hands them to either worker
            assert httpx.get(url, timeout=10).status_code == 200
        assert httpx.get(place.url("/health"), timeout=10).status_code == 200
        # A worker killed while live is replaced; the replacement goes live by itself.
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while victim in (workers := _workers_say(place, serve.pid, "on")):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        assert not worker_ack(place.root, victim).exists()
        assert place.accepting.read_text().split() == [str(serve.pid), "on"]
        for _ in range(10):
            assert httpx.get(url, timeout=10).status_code == 200
        os.kill(serve.pid, signal.SIGTERM)
        assert serve.wait(60) == 0
        # The gateway exited after its workers, not before: nothing of the slot is left.
        assert not [w for w in workers if pids.alive(w)]
        assert place.accepting.read_text().split() == [str(serve.pid), "off"]
        assert not list(place.root.glob("accepting.*"))
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        shared.close()
