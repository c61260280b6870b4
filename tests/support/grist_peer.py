"""A live grist-core server for the tests: found beside the clone, installed once, started per session.

The peer is test tooling, not part of the project: a packaged grist-core
1.7.17 with `install.sh DEST`, `start.sh DEST PORT DATA_DIR` and `stop.sh
DATA_DIR` (see its README). It is looked up as `../shared/peers/grist-core`
next to the clone's top (CI runs a clean clone whose sibling `shared/` holds
it), then next to the main checkout when this is a git worktree;
GRISTOPS_GRIST_PEER overrides both. It is installed into a cache folder
outside the clone (GRISTOPS_GRIST_PEER_CACHE, else /var/cache/gristops when
writable, else ~/.cache/gristops), once per machine: a stamp of the tarball
and install script makes a re-run a no-op.

Where the peer is absent, tests marked `grist_live` skip with one line;
GRISTOPS_REQUIRE_GRIST_PEER=1 (set by .ci/run) turns that skip into a failure.

`python -m tests.support.grist_peer install` is what `make test` runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
PEER_ENV = "GRISTOPS_GRIST_PEER"
CACHE_ENV = "GRISTOPS_GRIST_PEER_CACHE"
REQUIRE_ENV = "GRISTOPS_REQUIRE_GRIST_PEER"
RELATIVE = Path("..") / "shared" / "peers" / "grist-core"
STAMP = ".gristops-install.sha256"
START_ATTEMPTS = 3


class PeerMissing(Exception):
    """The peer folder is not there: the tests that need it cannot run."""


def _main_checkout() -> Path | None:
    """The main checkout's top when REPO is a git worktree (its .git is a file)."""
    dotgit = REPO / ".git"
    if not dotgit.is_file():
        return None
    gitdir = Path(dotgit.read_text().removeprefix("gitdir:").strip())
    common = gitdir / "commondir"
    if not common.is_file():
        return None
    return (gitdir / common.read_text().strip()).resolve().parent


def peer_dir() -> Path:
    """The peer folder; PeerMissing says where it was looked for."""
    configured = os.environ.get(PEER_ENV)
    candidates = [Path(configured)] if configured else [REPO / RELATIVE]
    main = None if configured else _main_checkout()
    if main is not None:
        candidates.append(main / RELATIVE)
    for candidate in candidates:
        if (candidate / "start.sh").is_file():
            return candidate.resolve()
    where = " or ".join(str(c) for c in candidates)
    raise PeerMissing(f"grist-core peer not found at {where} (set {PEER_ENV} to its folder)")


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    system = Path("/var/cache")
    if os.access(system, os.W_OK):
        return system / "gristops" / "grist-core"
    return Path.home() / ".cache" / "gristops" / "grist-core"


def _fingerprint(peer: Path) -> str:
    digest = hashlib.sha256()
    for name in sorted(p.name for p in peer.iterdir() if p.suffix in (".sh", ".xz")):
        digest.update(name.encode() + b"\0" + (peer / name).read_bytes())
    return digest.hexdigest()


def install(peer: Path, dest: Path) -> None:
    """Run the peer's install.sh into `dest` unless this exact peer is installed there."""
    stamp = dest / STAMP
    fingerprint = _fingerprint(peer)
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return
    print(f"installing the grist-core test peer into {dest} (once per machine, ~2 min)")
    subprocess.run([str(peer / "install.sh"), str(dest)], check=True)
    stamp.write_text(fingerprint + "\n")


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


@dataclass
class GristPeer:
    """A running grist-core: its URL, the admin's key, its home workspace and folders."""

    base_url: str
    api_key: str
    workspace_id: int
    data_dir: Path
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=60,
            trust_env=False,
        )

    @property
    def docs_dir(self) -> Path:
        return self.data_dir / "docs"

    @property
    def home_db(self) -> Path:
        return self.data_dir / "inst" / "home.sqlite3"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to Grist with the admin's key; no status check."""
        return self._client.request(method, path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request that must succeed; its JSON answer."""
        response = self.request(method, path, **kwargs)
        if response.is_error:
            raise AssertionError(f"Grist {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def upload(self, document: Path, name: str | None = None) -> str:
        """Upload a .grist file as a new document; its doc id."""
        with document.open("rb") as handle:
            files = {"upload": (f"{name or document.stem}.grist", handle)}
            answer = self.call(
                "POST", "/api/docs", data={"workspaceId": str(self.workspace_id)}, files=files
            )
        return str(answer)

    def new_doc(self, name: str) -> str:
        return str(
            self.call("POST", f"/api/workspaces/{self.workspace_id}/docs", json={"name": name})
        )

    def server_keys(self, folder: Path) -> str:
        """The `grist:` keys (YAML lines) that point gristops at this server; the API key
        goes into folder/grist.key (0600)."""
        key_file = folder / "grist.key"
        key_file.write_text(self.api_key)
        key_file.chmod(0o600)
        return f"  base_url: {self.base_url}\n  api_key_file: {key_file}\n"

    def download(self, doc_id: str) -> bytes:
        """The document as a .grist file (Grist's own download)."""
        response = self.request("GET", f"/api/docs/{doc_id}/download")
        response.raise_for_status()
        return response.content

    def doc_file(self, doc_id: str) -> Path:
        return self.docs_dir / f"{doc_id}.grist"

    def apply(self, doc_id: str, actions: list[list[Any]]) -> Any:
        """Grist user actions, applied as one bundle (`POST /apply`)."""
        return self.call("POST", f"/api/docs/{doc_id}/apply", json=actions)

    def close(self) -> None:
        self._client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_peer(data_dir: Path) -> Iterator[GristPeer]:
    """Install (when needed), start grist-core on a free port with state in `data_dir`; always stop it."""
    peer = peer_dir()
    dest = cache_dir()
    install(peer, dest)
    port = _free_port()
    command = [str(peer / "start.sh"), str(dest), str(port), str(data_dir)]
    for _ in range(START_ATTEMPTS):
        # A run of start.sh on a server it already started only sets the key and checks
        # it again: the first check sometimes runs before Grist serves its API.
        started = subprocess.run(command, capture_output=True, text=True, check=False)
        if started.returncode == 0:
            break
        time.sleep(1)
    try:
        if started.returncode != 0:
            raise RuntimeError(f"grist-core peer did not start: {started.stderr.strip()}")
        grist = GristPeer(
            base_url=f"http://127.0.0.1:{port}",
            api_key=(data_dir / "api_key").read_text().strip(),
            workspace_id=int((data_dir / "workspace_id").read_text()),
            data_dir=data_dir,
        )
        try:
            yield grist
        finally:
            grist.close()
    finally:
        subprocess.run([str(peer / "stop.sh"), str(data_dir)], capture_output=True, check=False)


def main(argv: list[str]) -> int:
    """`install`: install the peer when present (a clear line when it is absent)."""
    if argv != ["install"]:
        print("usage: python -m tests.support.grist_peer install", file=sys.stderr)
        return 2
    try:
        peer = peer_dir()
    except PeerMissing as exc:
        print(f"{exc}; tests marked grist_live will {'fail' if required() else 'skip'}")
        return 1 if required() else 0
    if shutil.which("curl") is None:
        print("curl is needed by the grist-core peer's start.sh (apt-get install curl)")
        return 1
    install(peer, cache_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
