"""The edge with a real nginx in front of a plain upstream HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gristops.config import Config
from gristops.edge.nginx import Nginx, render
from gristops.errors import NginxConfigError
from gristops.runtime.process import Service
from tests.support.edge import loopback_edge

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Edge:
    config: Config
    nginx: Nginx
    upstream_port: int
    web: Path

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.config.edge.https_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.config.edge.http_port}"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("edge")
    upstream_dir = root / "upstream"
    (upstream_dir / "api").mkdir(parents=True)
    (upstream_dir / "health").write_text('{"status": "ok"}')
    (upstream_dir / "api" / "answer").write_text("from the gateway")
    web = root / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<html>the app</html>" + " " * 2000)
    (web / "main.0123abcd9f.js").write_text("console.log('app');" * 200)
    config = loopback_edge(root / "data", auth_rate_per_minute=6, auth_burst=2, max_body_bytes=2048)
    port = free_port()
    upstream = Service(
        "upstream",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(upstream_dir)],
        log_path=root / "upstream.log",
    )  # fmt: skip
    nginx = Nginx(config)
    with upstream.start(ready=lambda: httpx.get(f"http://127.0.0.1:{port}/health").is_success):
        try:
            nginx.apply(render(config, upstream_port=port, web_root=web))
            nginx.start()
            yield Edge(config, nginx, port, web)
        finally:
            nginx.stop()


def test_plain_http_redirects_to_https_except_acme_challenges(edge: Edge) -> None:
    challenge = edge.nginx.paths.acme_webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / "token123").write_text("token123.thumbprint")
    redirect = httpx.get(f"{edge.http}/api/answer?x=1")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"{edge.https}/api/answer?x=1"
    answer = httpx.get(f"{edge.http}/.well-known/acme-challenge/token123")
    assert answer.status_code == 200 and answer.text == "token123.thumbprint"


def test_https_proxies_the_gateway_with_security_headers(edge: Edge) -> None:
    answer = httpx.get(f"{edge.https}/api/answer", verify=False)
    assert answer.text == "from the gateway"
    assert answer.headers["strict-transport-security"] == "max-age=63072000"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert httpx.get(f"{edge.https}/health", verify=False).json() == {"status": "ok"}


def test_the_bootstrap_certificate_key_is_private(edge: Edge) -> None:
    key = edge.nginx.paths.selfsigned_key
    assert key.stat().st_mode & 0o777 == 0o600


def test_static_app_has_spa_fallback_long_cache_for_hashed_assets_and_gzip(edge: Edge) -> None:
    with httpx.Client(verify=False) as client:
        deep_link = client.get(f"{edge.https}/orders/42")
        assert deep_link.status_code == 200 and "the app" in deep_link.text
        assert deep_link.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in deep_link.headers["content-security-policy"]
        asset = client.get(f"{edge.https}/main.0123abcd9f.js", headers={"Accept-Encoding": "gzip"})
        assert "immutable" in asset.headers["cache-control"]
        assert asset.headers["content-encoding"] == "gzip"
        assert "console.log" in asset.text


def test_body_limit_and_auth_rate_limit(edge: Edge) -> None:
    with httpx.Client(verify=False) as client:
        too_big = client.post(f"{edge.https}/api/answer", content=b"x" * 4096)
        assert too_big.status_code == 413
        statuses = [client.get(f"{edge.https}/auth/login").status_code for _ in range(8)]
    assert 429 in statuses
    assert statuses[0] != 429


def test_access_log_is_json_lines(edge: Edge) -> None:
    httpx.get(f"{edge.https}/api/answer?probe=log", verify=False)
    # nginx writes the line in its log phase, after the response went out: wait for it.
    deadline = time.monotonic() + 10
    while True:
        lines = edge.nginx.paths.access_log.read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        found = any(e["uri"] == "/api/answer?probe=log" and e["status"] == 200 for e in entries)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found


def test_a_broken_render_is_refused_and_the_old_config_keeps_serving(edge: Edge) -> None:
    live = edge.nginx.live_text()
    assert live is not None
    broken = live.replace("server_tokens off;", "server_tokens sometimes;")
    with pytest.raises(NginxConfigError) as refused:
        edge.nginx.apply(broken)
    assert "server_tokens" in refused.value.message
    assert edge.nginx.live_text() == live
    assert httpx.get(f"{edge.https}/api/answer", verify=False).text == "from the gateway"


def test_a_changed_render_goes_live_on_reload(edge: Edge) -> None:
    live = edge.nginx.live_text()
    assert live is not None
    without_web = render(edge.config, upstream_port=edge.upstream_port, web_root=None)
    try:
        assert edge.nginx.apply(without_web)
        # With no static app, every path goes to the gateway.
        assert httpx.get(f"{edge.https}/health", verify=False).status_code == 200
        assert httpx.get(f"{edge.https}/orders/42", verify=False).status_code == 404
    finally:
        edge.nginx.apply(live)


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_edge_check_changes_nothing(tmp_path: Path) -> None:
    """`gristops edge check` on a fresh install: nginx -t runs, no file appears or changes."""
    assert gristops("init", "--dir", str(tmp_path)).returncode == 0
    config = tmp_path / "gristops.yaml"
    before = _files(tmp_path)
    checked = gristops("edge", "check", "-c", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "edge config ok" in checked.stdout
    assert _files(tmp_path) == before  # no certificate, log, state DB or nginx prefix


def gristops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gristops", *args], capture_output=True, text=True, timeout=120
    )
