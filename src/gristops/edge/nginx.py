"""Control of the edge nginx: check a candidate config, apply it atomically, start/reload/stop.

A broken render never goes live: every candidate passes `nginx -t` before it
replaces the live file, and if the running nginx still refuses it at reload the
previous file is put back (nginx itself keeps serving the old one meanwhile).
"""

from __future__ import annotations

import re
import signal
import tempfile
import time
from pathlib import Path

import structlog

from gristops.config import Config
from gristops.edge.layout import EdgePaths
from gristops.edge.render import render
from gristops.edge.tls.selfsigned import ensure_selfsigned, write_selfsigned
from gristops.errors import ExternalProgramError, NginxConfigError, Unavailable
from gristops.files import write_atomic
from gristops.runtime import pids
from gristops.runtime.nginx import nginx

__all__ = ["Nginx", "NginxConfigError", "render"]

log = structlog.get_logger("gristops.edge")
STOP_TIMEOUT = 30.0


def _complaint(output: str, candidate: str, text: str) -> str:
    """nginx's [emerg] line without its timestamp, with the offending line of the render."""
    emerg = next((line for line in output.splitlines() if "[emerg]" in line), output.strip())
    said = re.sub(r"^.*?\[emerg\] \d+#\d+: ", "", emerg).replace(candidate, "nginx.conf")
    found = re.search(r"nginx\.conf:(\d+)", said)
    lines = text.splitlines()
    if found and 0 < int(found.group(1)) <= len(lines):
        said += f" (line: {lines[int(found.group(1)) - 1].strip()})"
    return said


class Nginx:
    """The edge nginx of one gristops.yaml (its files under data_dir/edge)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.paths = EdgePaths.of(config)

    def prepare(self) -> None:
        """Directories, and the bootstrap certificate while none is configured."""
        self.paths.make_dirs()
        edge = self.config.edge
        if edge.tls_certificate is None or edge.tls_certificate_key is None:
            ensure_selfsigned(
                self.paths.selfsigned_certificate, self.paths.selfsigned_key, edge.server_name
            )

    def live_text(self) -> str | None:
        """The config nginx runs with (or would start with), None before the first apply."""
        try:
            return self.paths.conf.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def check(self, text: str) -> None:
        """`nginx -t` on a candidate; NginxConfigError with nginx's own words when refused.

        It runs in a scratch copy of the edge's directories, so checking changes
        nothing: no live file, log or certificate is written (a bootstrap
        certificate not made yet is stood in for by a throwaway one).
        """
        with tempfile.TemporaryDirectory(prefix="gristops-edge-check-") as scratch:
            root = Path(scratch)
            candidate = root / "edge" / "nginx.conf"
            candidate.write_text(self._in_scratch(text, root), encoding="utf-8")
            result = nginx(candidate.parent, candidate, "-t", "-q", check=False)
        if result.returncode != 0:
            raise NginxConfigError(
                f"nginx refused the rendered config: {_complaint(result.stderr or result.stdout, str(candidate), text)}",
                "the live config is unchanged; fix the edge: section of gristops.yaml",
            )

    def _in_scratch(self, text: str, root: Path) -> str:
        """`text` with the directories nginx writes to (and a missing bootstrap pair) in `root`."""
        p = self.paths
        moves = {p.prefix: root / "edge", p.logs: root / "logs"}
        if not (p.selfsigned_certificate.exists() and p.selfsigned_key.exists()):
            moves[p.selfsigned_certificate] = root / "tls" / p.selfsigned_certificate.name
            moves[p.selfsigned_key] = root / "tls" / p.selfsigned_key.name
            write_selfsigned(
                moves[p.selfsigned_certificate],
                moves[p.selfsigned_key],
                self.config.edge.server_name,
            )
        for directory in (root / "edge" / "tmp", root / "logs"):
            directory.mkdir(parents=True, exist_ok=True)
        for live, scratch in moves.items():
            text = text.replace(f'"{live}', f'"{scratch}')
        return text

    def apply(self, text: str) -> bool:
        """Check `text`, make it the live config and reload a running nginx; False if unchanged."""
        previous = self.live_text()
        if previous == text:
            return False
        self.check(text)
        self.prepare()
        write_atomic(self.paths.conf, text, 0o644)
        if previous is not None:
            write_atomic(self.paths.previous_conf, previous, 0o644)
        if self.running():
            try:
                self.reload()
            except ExternalProgramError:
                if previous is not None:
                    write_atomic(self.paths.conf, previous, 0o644)
                raise
        log.info("edge config applied", conf=str(self.paths.conf))
        return True

    def pid(self) -> int | None:
        """The master's pid while it runs."""
        return pids.read_pid(self.paths.pid)

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 10.0) -> None:
        """Start nginx (it daemonizes) with the live config; no-op when it already runs."""
        if self.running():
            return
        if self.live_text() is None:
            raise NginxConfigError(
                "there is no edge config to start nginx with", "run `gristops edge render --apply`"
            )
        self.prepare()
        nginx(self.paths.prefix, self.paths.conf)
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise Unavailable(
                    "nginx did not start", f"read its error log {self.paths.error_log}"
                )
            time.sleep(0.02)
        log.info("nginx started", pid=self.pid())

    def reload(self, timeout: float = 10.0) -> None:
        """Re-read the live config; returns once only new workers accept (old ones drain)."""
        pid = self.pid()
        if pid is None:
            raise Unavailable("nginx is not running", "start it with `gristops edge start`")
        before = pids.children(pid)
        nginx(self.paths.prefix, self.paths.conf, "-s", "reload")
        deadline = time.monotonic() + timeout
        while before and not self._reloaded(pid, before):
            if time.monotonic() > deadline:
                raise Unavailable("nginx did not reload", f"read {self.paths.error_log}")
            time.sleep(0.01)
        log.info("nginx reloaded", pid=pid)

    @staticmethod
    def _reloaded(master: int, old_workers: set[int]) -> bool:
        """New workers run and no old one still accepts connections (each exits or drains)."""
        now = pids.children(master)
        if not now - old_workers:
            return False
        for worker in now & old_workers:
            try:
                title = Path(f"/proc/{worker}/cmdline").read_bytes()
            except OSError:
                continue
            if b"shutting down" not in title:
                return False
        return True

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Graceful stop: in-flight requests finish; forced after `timeout`."""
        pid = self.pid()
        if pid is None:
            return
        pids.stop(pid, signal.SIGQUIT, timeout)
        log.info("nginx stopped", pid=pid)


def reload_edge(config: Config, upstream_port: int, web_root: Path | None) -> bool:
    """Make a running nginx serve the current certificate files; False when it is not running."""
    nginx = Nginx(config)
    if not nginx.running():
        return False
    if not nginx.apply(render(config, upstream_port=upstream_port, web_root=web_root)):
        nginx.reload()
    return True
