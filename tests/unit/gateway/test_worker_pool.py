"""The worker pool runs real processes on 127.0.0.1: what it does to them and their sockets.

The workers here are a ten-line Python program in place of the gateway (what is
tested is the pool: sockets, replacement, stopping); `serve`'s own workers are
tested in tests/integration/test_serve_workers.py.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gristops.errors import GristopsError
from gristops.gateway.worker_pool import WORKER_CANNOT_START, listen
from tests.gateway_harness import free_port

# Answers each connection with its pid, accepting like an event loop does (every
# connection waiting, once woken); "fail" exits as a worker that cannot start,
# "crash-once" exits 1 the first time it runs (a marker file remembers).
WORKER = """\
import os, select, signal, socket, sys
from pathlib import Path
mode, marker = sys.argv[1], Path(sys.argv[2])
if mode == "fail":
    sys.exit(3)
if mode == "crash-once" and not marker.exists():
    marker.touch()
    sys.exit(1)
sock = socket.socket(fileno=int(sys.argv[sys.argv.index("--worker-fd") + 1]))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with (marker.parent / f"up.{os.getpid()}").open("w"):
    pass
sock.setblocking(False)
while True:
    select.select([sock], [], [])
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            break
        conn.setblocking(True)
        conn.sendall(str(os.getpid()).encode())
        conn.close()
"""

POOL = """\
import sys
from gristops.gateway.worker_pool import WorkerPool
command = [sys.executable, sys.argv[1], sys.argv[2], sys.argv[3]]
sys.exit(WorkerPool(command, 2, "127.0.0.1", int(sys.argv[4])).run())
"""


@contextmanager
def pool(tmp_path: Path, mode: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    (tmp_path / "worker.py").write_text(WORKER)
    argv = [sys.executable, "-c", POOL, str(tmp_path / "worker.py"), mode]
    argv += [str(tmp_path / "marker"), str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for pid_file in tmp_path.glob("up.*"):  # a worker the pool did not stop
            subprocess.run(["kill", "-9", pid_file.suffix[1:]], check=False, capture_output=True)


def wait_up(tmp_path: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while len(up := sorted(int(p.suffix[1:]) for p in tmp_path.glob("up.*"))) < count:
        assert time.monotonic() < deadline, f"{len(up)} of {count} workers up"
        time.sleep(0.05)
    return up


def burst(port: int, count: int) -> list[int]:
    """`count` connections opened at once, then each one's answer (a worker's pid)."""
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    answers = []
    for conn in conns:
        with conn:
            answers.append(int(conn.recv(32)))
    return answers


def test_a_burst_of_connections_reaches_every_worker(tmp_path: Path) -> None:
    port = free_port()
    with pool(tmp_path, "serve", port) as process:
        workers = wait_up(tmp_path, 2)
        for _ in range(3):  # on one shared socket, one worker mostly took all 40
            assert sorted(set(burst(port, 40))) == workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_a_dead_worker_is_replaced_and_its_port_stays_served(tmp_path: Path) -> None:
    port = free_port()
    with pool(tmp_path, "crash-once", port) as process:
        workers = wait_up(tmp_path, 2)  # the first worker exited 1 and was replaced
        assert (tmp_path / "marker").exists()
        assert set(burst(port, 20)) <= set(workers)
        victim = workers[0]
        (tmp_path / f"up.{victim}").unlink()
        subprocess.run(["kill", "-9", str(victim)], check=True)
        replaced = wait_up(tmp_path, 2)
        assert victim not in replaced
        # No connection waits on the dead worker's socket: every one is answered.
        assert set(burst(port, 20)) <= set(replaced)
        process.send_signal(signal.SIGHUP)  # a closed terminal stops it cleanly too
        assert process.wait(30) == 0


def test_a_worker_that_cannot_start_stops_the_pool(tmp_path: Path) -> None:
    with pool(tmp_path, "fail", free_port()) as process:
        assert process.wait(30) == WORKER_CANNOT_START
        assert process.stdout is not None
        assert b"could not start" in process.stdout.read()


def test_a_taken_port_is_one_line_with_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(GristopsError) as caught:
            listen("127.0.0.1", port, share_port=True)
    assert f"port {port} on 127.0.0.1 is already in use" in str(caught.value)
    assert "ss -ltnp" in (caught.value.hint or "")
