"""The stage the chaos experiments run on: a live grist-core of its own and a gateway beside it.

Each stage starts its own Grist (the experiments kill and stop it, so never
the session's shared peer) with a document holding a `Chaos` table (a text
column `marker` that the traffic writes) and a Users table, and a gateway in
hybrid mode (reads from Grist's files, writes through its API). `variables()`
is what `gristops chaos run` needs to find them; `run_experiment` runs one
through the real CLI and returns its JSON outcome.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt

from tests.gateway_harness import Gateway, running_gateway
from tests.support.grist_peer import GristPeer, cache_dir, peer_dir, running_peer

ADMIN = ("chaos@stage.test", "chaos-stage-password")  # a throwaway login of a throwaway stage
GRIST_TIMEOUT = 5  # long enough for Grist to load the document after a restart
# One worker: starts faster and leaves more of a small machine to the faults.
QUIET = "log: {level: warning, access: false}\nserver: {workers: 1}\n"


@dataclass
class Stage:
    gateway: Gateway
    doc_id: str
    grist: GristPeer | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "gateway_url": self.gateway.url,
            "email": ADMIN[0],
            "doc_id": self.doc_id,
            "table": "Chaos",
            "column": "marker",
            **self.extra,
        }
        if self.grist is not None:
            port = self.grist.base_url.rsplit(":", 1)[1]
            start = [str(peer_dir() / "start.sh"), str(cache_dir()), port, str(self.grist.data_dir)]
            found |= {
                "grist_url": self.grist.base_url,
                "grist_pid_file": str(self.grist.data_dir / "grist.pid"),
                "grist_start": shlex.join(start),
                "max_latency": GRIST_TIMEOUT + 1,
            }
        return found


def users_row() -> dict[str, Any]:
    hashed = bcrypt.hashpw(ADMIN[1].encode(), bcrypt.gensalt(4)).decode()
    return {"email": ADMIN[0], "password_hash": hashed, "role": "admin", "active": True}


def tables() -> list[dict[str, Any]]:
    users = [("email", "Text"), ("password_hash", "Text"), ("role", "Text"), ("active", "Bool")]
    return [
        {"id": "Chaos", "columns": [{"id": "marker", "fields": {"type": "Text"}}]},
        {"id": "Users", "columns": [{"id": c, "fields": {"type": t}} for c, t in users]},
    ]


@contextmanager
def hybrid_stage(root: Path) -> Iterator[Stage]:
    """Grist (own data folder under `root`) and a hybrid gateway in front of it."""
    with running_peer(root / "grist") as grist:
        doc = grist.new_doc("Chaos")
        grist.call("POST", f"/api/docs/{doc}/tables", json={"tables": tables()})
        grist.call(
            "POST",
            f"/api/docs/{doc}/tables/Users/records",
            json={"records": [{"fields": users_row()}]},
        )
        config = (
            f"grist:\n  document_id: {doc}\n{grist.server_keys(root)}"
            f"  docs_dir: {grist.docs_dir}\n  timeout: {GRIST_TIMEOUT}\n"
        )
        observe = "observe:\n  prometheus:\n    store_probe_interval: 0.5\n"
        (root / "gateway").mkdir()
        with running_gateway(root / "gateway", extra=QUIET + observe, grist=config) as gateway:
            yield Stage(gateway, doc, grist)


def run_experiment(name: str, stage: Stage, short: bool, **extra: Any) -> dict[str, Any]:
    """`gristops chaos run NAME --json` against the stage; its JSON outcome (whatever the verdict)."""
    env = {} if stage.grist is None else {"GRISTOPS_CHAOS_GRIST_API_KEY": stage.grist.api_key}
    return run_chaos(name, {**stage.variables(), **extra}, short, env)


def run_chaos(
    name: str, variables: dict[str, Any], short: bool, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`gristops chaos run NAME --json` with `variables`, logging in as ADMIN; its JSON outcome."""
    # The suite checks behaviour; durations are checked by the full-length runs (make chaos).
    variables = {"check_timing": not short, **variables}
    args = [sys.executable, "-m", "gristops", "chaos", "run", name, "--json"]
    args += ["--short"] if short else []
    for key, value in variables.items():
        args += ["--var", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    env = {**os.environ, "GRISTOPS_CHAOS_PASSWORD": ADMIN[1], **(env or {})}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=900)
    if not done.stdout.strip():
        raise AssertionError(
            f"chaos run {name} printed nothing (exit {done.returncode}):\n{done.stderr}"
        )
    outcome: dict[str, Any] = json.loads(done.stdout)
    outcome["stderr"] = done.stderr[-3000:]
    return outcome


@contextmanager
def tmpfs(folder: Path, size_mb: int) -> Iterator[Path]:
    """A size-limited tmpfs mounted on `folder` (root only); always unmounted."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


@contextmanager
def embedded_stage_on_tmpfs(root: Path, grist: GristPeer, size_mb: int = 16) -> Iterator[Stage]:
    """A gateway on the embedded store whose data folder is a `size_mb` tmpfs; the document
    (Chaos and Users tables) is made by the live Grist and downloaded into it."""
    doc = grist.new_doc("ChaosDisk")
    grist.call("POST", f"/api/docs/{doc}/tables", json={"tables": tables()})
    grist.call(
        "POST", f"/api/docs/{doc}/tables/Users/records", json={"records": [{"fields": users_row()}]}
    )
    with tmpfs(root / "data", size_mb) as data:
        (data / "docs").mkdir()
        (data / "docs" / f"{doc}.grist").write_bytes(grist.download(doc))
        with running_gateway(root, extra=QUIET, grist=f"grist:\n  document_id: {doc}\n") as gateway:
            files = [str(data / "docs" / f"{doc}.grist"), str(data / "state.db")]
            yield Stage(
                gateway, doc, extra={"data_folder": str(data), "sqlite_files": ":".join(files)}
            )
