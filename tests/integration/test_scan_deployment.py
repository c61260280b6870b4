"""`gristops scan --url` against a real deployment: the gateway (uvicorn) behind the real nginx
edge with a certificate issued by a real ACME CA (Pebble), TLS scanned by sslyze.

The module's deployment is configured the way the docs recommend and must scan
clean: this is the CI gate. The last restore drill is recorded through the
backup catalog (the drill itself is tested in the backup tests). Dependencies
are audited against an offline OSV database the test writes, since this
machine reaches no advisory service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gristops.backup.catalog import Catalog
from gristops.cli.main import app
from gristops.config import load_config
from gristops.edge.nginx import Nginx, render
from gristops.errors import GristopsError
from gristops.observe.logging import configure_logging
from gristops.scan.deployment import outside_address
from gristops.state.db import StateDB
from tests.gateway_harness import Gateway, copy_shop, free_port, running_gateway
from tests.support.pebble import pebble

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive"),
]
ROLES = """\
roles:
  admin: {"*": [read, create, update, delete]}
  user: {Products: [read], Orders: [read, create]}
"""
AGE = "age1" + "q" * 58


@dataclass(frozen=True)
class Deployment:
    root: Path
    config: Path
    url: str
    ca: Path
    advisories: Path
    gateway: Gateway


def gristops(*args: str) -> tuple[int, str]:
    """The CLI in process: its exit code (as `gristops` exits) and stdout."""
    result = CliRunner().invoke(app, list(args))
    configure_logging()
    if isinstance(result.exception, GristopsError):
        return result.exception.exit_code, f"{result.exception.message} {result.exception.hint}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("scan")
    http_port, https_port = free_port(), free_port()
    copy_shop(root)
    (root / "data").chmod(0o700)
    (root / "data" / "docs").chmod(0o700)
    (root / "data" / "docs" / "Shop.grist").chmod(0o600)
    advisories = root / "advisories"
    advisories.mkdir()
    record = {
        "id": "PYSEC-2099-0001",
        "summary": "fixed long before the installed httpx",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "httpx"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.1"}]}
                ],
            }
        ],
    }
    (advisories / "PYSEC-2099-0001.json").write_text(json.dumps(record))
    with pebble(root / "pebble", http_port) as ca:
        extra = f"""\
auth: {{max_failures_per_client: 1000}}
edge:
  listen_address: 127.0.0.1
  http_port: {http_port}
  https_port: {https_port}
  server_name: localhost
  worker_user: root
  tls_domains: [localhost]
  acme_directory_url: {ca.directory_url}
  acme_ca_bundle: {ca.https_ca}
  acme_email: ops@example.com
backup:
  encryption: {{recipients: [{AGE}]}}
  targets:
    offsite: {{kind: rclone, remote: offsite, path: {root / "offsite"}}}
"""
        with running_gateway(root, extra, roles=ROLES) as gateway:
            config_file = root / "gristops.yaml"
            config = load_config(config_file)
            upstream = int(gateway.url.rsplit(":", 1)[1])
            nginx = Nginx(config)
            nginx.apply(render(config, upstream_port=upstream, web_root=None))
            nginx.start()
            try:
                code, output = gristops("tls", "issue", "-c", str(config_file))
                assert code == 0, output
                # The issue step reloaded the edge for server.port: point it at this gateway.
                nginx.apply(render(config, upstream_port=upstream, web_root=None))
                nginx.reload()
                state = StateDB(config.state_path)
                Catalog(state).record_run("drill", started_at=0, ok=True)
                state.close()
                yield Deployment(
                    root,
                    config_file,
                    f"https://localhost:{https_port}",
                    ca.root_file(root),
                    advisories,
                    gateway,
                )
            finally:
                nginx.stop()


def test_the_recommended_deployment_scans_clean(deployment: Deployment) -> None:
    code, output = gristops(
        "scan", "-c", str(deployment.config), "--url", deployment.url,
        "--ca-file", str(deployment.ca), "--advisories", str(deployment.advisories),
        "--format", "json", "--fail-on", "low",
    )  # fmt: skip
    report = json.loads(output)
    assert report["findings"] == [], report
    assert code == 0
    checks = {c["name"]: c for c in report["checks"]}
    assert all(c["ran"] for c in checks.values()), checks
    assert "throwaway account" in checks["deployment"]["detail"]
    assert "operations requested without credentials" in checks["deployment"]["detail"]
    assert "audited against offline OSV database" in checks["dependencies"]["detail"]
    # The throwaway account is gone again.
    code, users = gristops("users", "list", "-c", str(deployment.config), "--json")
    assert "gristops-scan-" not in users


def test_login_throttling_that_does_not_engage_is_found(deployment: Deployment) -> None:
    """The gateway allows 5 failures per account; a scan told to expect 2 sees no lockout."""
    lenient = deployment.root / "expects-two.yaml"
    text = deployment.config.read_text().replace(
        "auth: {max_failures_per_client: 1000}",
        "auth: {max_failures_per_client: 1000, max_failures_per_account: 2}",
    )
    lenient.write_text(text)
    code, output = gristops(
        "scan", "-c", str(lenient), "--url", deployment.url, "--ca-file", str(deployment.ca),
        "--skip", "dependencies", "--skip", "tls", "--format", "json",
    )  # fmt: skip
    findings = json.loads(output)["findings"]
    assert [f["id"] for f in findings] == ["deployment.login-not-throttled"]
    assert "after 2 wrong passwords the right one answered 200" in findings[0]["evidence"]
    assert code == 1


def test_tls_that_does_not_validate_is_found(deployment: Deployment) -> None:
    """Without Pebble's root the chain does not validate: sslyze's trust stores lack it."""
    code, output = gristops(
        "scan", "-c", str(deployment.config), "--url", deployment.url,
        "--skip", "dependencies", "--skip", "deployment", "--format", "json",
    )  # fmt: skip
    findings = json.loads(output)["findings"]
    assert [f["id"] for f in findings] == ["tls.bad-chain"]
    assert code == 1


def test_a_bare_gateway_on_every_interface_is_flagged(tmp_path: Path) -> None:
    """No edge: no security headers, /metrics and the API docs answer outside clients, and
    the config check sees the gateway listening beyond loopback. (It binds 0.0.0.0 for the
    few seconds of the test: this machine has no network beyond the package registries.)"""
    address = outside_address()
    if address is None:
        pytest.skip("this host has no non-loopback address to request from")
    copy_shop(tmp_path)
    with running_gateway(tmp_path, "server: {host: 0.0.0.0}\n", roles=ROLES) as gateway:
        code, output = gristops(
            "scan", "-c", str(tmp_path / "gristops.yaml"), "--url", gateway.url,
            "--skip", "dependencies", "--skip", "files", "--no-account", "--format", "json",
        )  # fmt: skip
    found = {(f["id"], f["location"].rsplit(":", 1)[-1]) for f in json.loads(output)["findings"]}
    port = gateway.url.rsplit(":", 1)[1]
    assert ("config.server-exposed", " server.host") in found
    assert ("deployment.metrics-exposed", f"{port}/metrics") in found
    assert ("deployment.api-docs-exposed", f"{port}/api/docs") in found
    assert any(rule == "deployment.missing-header" for rule, _ in found)
    assert code == 1
