"""`make loadtest`: the shipped load-test plan (60 s: ramp to 20 users, hold, ramp down) against
a local gateway on `gristops init`'s sample document, as a user would run it.

    python bench/loadtest.py [--out DIR] [PLAN]

The gateway (`gristops serve`, its default workers) runs on 127.0.0.1 and a free
port in a scratch folder; `gristops loadtest` prints its figures and writes
DIR/result.json and DIR/report.html (default build/loadtest). Exits with
loadtest's code: 0 when the plan's thresholds pass, 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gristops(
    *args: str, env: dict[str, str] | None = None, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gristops", *args]
    return subprocess.run(command, text=True, check=False, env=env, capture_output=capture)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", nargs="?", help="a plan file (default: the shipped plan)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "loadtest")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gristops-loadtest-bench-") as scratch:
        work = Path(scratch)
        init = gristops("init", "--dir", str(work), "--json", capture=True)
        if init.returncode != 0:
            print(init.stderr, file=sys.stderr)
            return 2
        password = json.loads(init.stdout)["admin_password"]
        port = free_port()
        config = work / "gristops.yaml"
        config.write_text(config.read_text().replace("port: 8484", f"port: {port}"))
        with (work / "serve.log").open("wb") as log:
            serve = subprocess.Popen(
                [sys.executable, "-m", "gristops", "serve", "-c", str(config)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if serve.poll() is not None or time.monotonic() > deadline:
                    print((work / "serve.log").read_text(), file=sys.stderr)
                    return 2
                time.sleep(0.2)
            plan = [args.plan] if args.plan else []
            run = gristops(
                "loadtest", *plan, "--url", url,
                "--out", str(args.out / "result.json"), "--html", str(args.out / "report.html"),
                env={**os.environ, "GRISTOPS_LOADTEST_PASSWORD": password},
            )  # fmt: skip
        finally:
            serve.terminate()
            serve.wait(30)
    print(f"result: {args.out / 'result.json'}  report: {args.out / 'report.html'}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
