"""gristops tls against a real ACME CA (Pebble) and the real edge nginx, scanned with sslyze.

One nginx and one Pebble serve the whole module: nginx answers Pebble's HTTP-01
checks from the ACME webroot over plain HTTP and serves HTTPS; the tests run
the real `gristops` CLI (in process) in order: issue, serve, scan, renew, fail.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.config import load_config
from gristops.edge.nginx import Nginx, render
from gristops.errors import FAILED, GristopsError
from gristops.observe.logging import configure_logging
from tests.gateway_harness import free_port
from tests.support.pebble import Pebble, pebble

pytestmark = [
    pytest.mark.integration,
    # sslyze loads its bundled Mozilla store, which has one root with a negative serial.
    pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive"),
]
BLOCKED = "blocked.example.com"  # Pebble refuses to issue for it: a CA-side failure


@dataclass(frozen=True)
class Edge:
    root: Path
    pebble: Pebble
    pebble_root: Path
    https_port: int
    settings: dict[str, Any]

    def config_file(self, name: str, **edge: Any) -> Path:
        """A gristops.yaml with the module's edge settings changed by `edge`."""
        data = json.loads(json.dumps(self.settings))
        data["edge"].update(edge)
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def served(self, *, verify: bool = True) -> x509.Certificate:
        """The leaf certificate nginx presents for `localhost` (checked against Pebble's root)."""
        context = ssl.create_default_context(cafile=str(self.pebble_root))
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", self.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)

    def serving(self, serial: int | None = None, *, other_than: int | None = None) -> int:
        """Wait until nginx serves the certificate asked for (old workers drain after a
        reload and may take one more connection); its serial."""
        deadline = time.monotonic() + 10
        while True:
            now = self.served(verify=False).serial_number
            if (serial is None or now == serial) and (other_than is None or now != other_than):
                return now
            assert time.monotonic() < deadline, f"nginx still serves {now:x}"
            time.sleep(0.05)


def gristops(*args: str) -> tuple[int, str]:
    """Run the CLI: its exit code and what it printed (stdout only with --json, for parsing),
    followed by the error and hint it would print."""
    result = CliRunner().invoke(app, list(args))
    configure_logging()  # the command logged to the runner's stderr, closed now
    printed = result.stdout if "--json" in args else result.output
    error = result.exception
    if isinstance(error, GristopsError):
        return error.exit_code, f"{printed}error: {error.message}\nhint: {error.hint}"
    assert error is None or isinstance(error, SystemExit), result.output
    return result.exit_code, printed


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("tls")
    http_port, https_port = free_port(), free_port()
    web = root / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>shop</title>")
    with pebble(root / "pebble", http_port, validity_seconds=6 * 86400, blocked=(BLOCKED,)) as ca:
        settings: dict[str, Any] = {
            "data_dir": str(root / "data"),
            "grist": {"document_id": "Shop"},
            "edge": {
                "listen_address": "127.0.0.1",
                "http_port": http_port,
                "https_port": https_port,
                "server_name": "localhost",
                "web_root": str(web),
                "worker_user": "root",  # tmp dirs are 0700: workers must read the webroot
                "tls_domains": ["localhost"],
                "acme_directory_url": ca.directory_url,
                "acme_ca_bundle": str(ca.https_ca),
                "acme_email": "ops@example.com",
            },
        }
        made = Edge(root, ca, ca.root_file(root), https_port, settings)
        config = load_config(made.config_file("bootstrap"))
        nginx = Nginx(config)
        nginx.apply(render(config, upstream_port=free_port(), web_root=web))
        nginx.start()
        try:
            yield made
        finally:
            nginx.stop()


def issued(edge: Edge) -> Path:
    """The config that serves the issued certificate (edge.tls_certificate set)."""
    tls = edge.root / "data" / "tls" / "localhost"
    return edge.config_file(
        "issued",
        tls_certificate=str(tls / "fullchain.pem"),
        tls_certificate_key=str(tls / "privkey.pem"),
    )


def test_issue_gets_a_certificate_through_the_edge_webroot(edge: Edge) -> None:
    bootstrap = edge.served(verify=False)
    assert bootstrap.issuer.rfc4514_string() == "CN=gristops bootstrap"  # the self-signed one
    code, output = gristops("tls", "issue", "-c", str(edge.config_file("bootstrap")))
    assert code == 0, output
    assert "localhost: issued, valid until" in output
    key = edge.root / "data" / "tls" / "localhost" / "privkey.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    # No further step: the edge serves the first issued certificate as soon as it exists.
    edge.serving(other_than=bootstrap.serial_number)
    served = edge.served()  # verified against Pebble's root by the TLS handshake itself
    assert "Pebble" in served.issuer.rfc4514_string()
    code, output = gristops("tls", "status", "-c", str(issued(edge)), "--json")
    [status] = [s for s in json.loads(output) if s["name"] == "localhost"]
    assert status["present"] and status["renewal_due"] is False
    assert 5.9 < status["days_left"] <= 6
    assert status["ca"] == edge.pebble.directory_url


def test_the_served_tls_passes_sslyzes_mozilla_intermediate_check(edge: Edge) -> None:
    request = ServerScanRequest(
        server_location=ServerNetworkLocation("localhost", edge.https_port, "127.0.0.1"),
        scan_commands={*SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER, ScanCommand.HTTP_HEADERS},
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=edge.pebble_root)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    [scan] = list(scanner.get_results())
    assert scan.scan_status == ServerScanStatusEnum.COMPLETED
    intermediate = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    try:  # what `sslyze --mozilla_config=intermediate` checks: versions, suites, curves,
        # certificate (trusted through Pebble's root here), known vulnerabilities
        check_server_against_tls_configuration(scan, intermediate)
    except ServerNotCompliantWithTlsConfiguration as exc:
        pytest.fail(f"not Mozilla intermediate: {exc.issues}")
    result = scan.scan_result
    assert result is not None
    curves = result.elliptic_curves.result
    assert curves is not None and curves.supported_curves is not None
    assert {c.name for c in curves.supported_curves} == {"X25519", "secp256r1", "secp384r1"}
    headers = result.http_headers.result
    assert headers is not None and headers.strict_transport_security_header is not None
    assert headers.strict_transport_security_header.max_age == 63072000
    info = result.certificate_info.result
    assert info is not None
    [deployment] = info.certificate_deployments
    assert deployment.received_chain_has_valid_order
    assert not deployment.received_chain_contains_anchor_certificate  # the root is not sent
    assert deployment.ocsp_response is None  # no stapling: Let's Encrypt ended OCSP


def test_renew_waits_until_due_then_replaces_and_reloads(edge: Edge) -> None:
    before = edge.served().serial_number
    code, output = gristops("tls", "renew", "-c", str(issued(edge)))
    assert code == 0, output
    assert "localhost: not-due, renewal due" in output
    assert edge.served().serial_number == before
    code, output = gristops("tls", "renew", "--force", "-c", str(issued(edge)))
    assert code == 0, output
    assert "localhost: renewed" in output
    edge.serving(other_than=before)  # nginx reloaded onto the new certificate


def test_a_failed_challenge_keeps_the_old_certificate_serving(edge: Edge) -> None:
    before = edge.served().serial_number
    # A webroot nginx does not serve: Pebble's HTTP-01 check gets a 404.
    wrong = issued(edge).read_text()
    elsewhere = edge.config_file(
        "wrong-webroot", **{**yaml.safe_load(wrong)["edge"], "acme_webroot": str(edge.root / "x")}
    )
    code, output = gristops("tls", "renew", "--force", "-c", str(elsewhere))
    assert code == FAILED  # at least one certificate failed; the others were handled
    assert "localhost: FAILED" in output
    assert "the previous certificates keep serving" in output
    assert edge.served().serial_number == before
    code, output = gristops("tls", "status", "-c", str(elsewhere))
    assert "last attempt failed" in output


def test_renew_goes_on_past_a_failed_certificate_and_sums_up(edge: Edge) -> None:
    before = edge.served().serial_number
    both = edge.config_file(
        "two-certificates",
        **{
            **yaml.safe_load(issued(edge).read_text())["edge"],
            "tls_domains": [BLOCKED, "localhost"],
        },
    )
    code, output = gristops("tls", "renew", "--force", "-c", str(both))
    assert code == FAILED  # at least one certificate failed; the others were handled
    assert f"{BLOCKED}: FAILED" in output
    assert "localhost: renewed" in output
    assert "1 renewed, 1 failed" in output
    edge.serving(other_than=before)
