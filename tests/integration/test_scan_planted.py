"""Deployment and TLS checks against servers that plant what the gristops edge never serves.

The gristops gateway and edge cannot be configured into these faults (an
unauthenticated data route, TLS 1.0, a non-AEAD cipher, no HSTS, a certificate
about to expire), so a small Python HTTPS server in a thread stands in for a
misconfigured deployment: a test double, on 127.0.0.1 and a free port. The
clean case of every check is the real deployment in test_scan_deployment.py.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gristops.config import parse_config
from gristops.scan.deployment import Target, check_authentication, check_headers
from gristops.scan.tls import check_tls

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive"),
    pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated"),  # planted on purpose
]
OPENAPI = {
    "paths": {
        "/api/docs/{docId}/tables": {"get": {"responses": {"200": {}, "401": {}}}},
        "/auth/login": {"post": {"responses": {"200": {}, "401": {}}}},
        "/health": {"get": {"responses": {"200": {}}}},
    }
}


class Handler(BaseHTTPRequestHandler):
    """Answers everything with 200, with no security headers: a broken gateway."""

    def do_GET(self) -> None:
        body = json.dumps(OPENAPI if self.path == "/openapi.json" else {"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def certificate(directory: Path, days_left: float = 1) -> tuple[Path, Path]:
    """A self-signed RSA certificate for localhost, ten days long, with `days_left` to run."""
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10 - days_left))
        .not_valid_after(now + dt.timedelta(days=days_left))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def serving(cert: Path, key: Path) -> Iterator[str]:
    """A weak HTTPS server with this certificate on 127.0.0.1; its URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    # Plain RSA key exchange and CBC: no forward secrecy, no AEAD; level 0 lets TLS 1.0 in.
    context.set_ciphers("AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def weak_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cert, key = certificate(tmp_path_factory.mktemp("weak"))
    with serving(cert, key) as url:
        yield url, cert


def test_an_expired_certificate_is_critical(tmp_path: Path) -> None:
    with serving(*certificate(tmp_path, days_left=-1)) as url:
        found = check_tls(url, None, 1 / 3, dt.datetime.now(dt.UTC))
    [expired] = [f for f in found if f.rule.id.startswith("tls.expir")]
    assert expired.rule.id == "tls.expired" and expired.severity.label == "critical"


def test_weak_tls_is_found(weak_https: tuple[str, Path]) -> None:
    found = check_tls(weak_https[0], None, 1 / 3, dt.datetime.now(dt.UTC))
    by_rule = {f.rule.id: f.evidence for f in found}
    old = {f.evidence for f in found if f.rule.id == "tls.old-protocol"}
    assert set(by_rule) >= {"tls.weak-cipher", "tls.bad-chain", "tls.expiring", "tls.hsts"}
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in by_rule["tls.weak-cipher"]
    assert by_rule["tls.hsts"] == "Strict-Transport-Security: absent"
    assert old == {"TLS 1.0 is accepted", "TLS 1.1 is accepted"}


def test_a_data_route_without_authentication_and_missing_headers_are_found(
    weak_https: tuple[str, Path],
) -> None:
    url, cert = weak_https
    target = Target(url, ca_file=cert)  # the self-signed certificate is its own CA
    found, detail = check_authentication(target, parse_config("grist: {document_id: Shop}\n"))
    assert [(f.rule.id, f.location.url) for f in found] == [
        ("deployment.unauthenticated-route", f"{url}/api/docs/Shop/tables")
    ]
    assert found[0].evidence == "GET without credentials answered 200"
    assert detail == "1 operations requested without credentials"
    headers = {(f.rule.id, f.evidence.split(":")[0]) for f in check_headers(target)}
    assert headers == {
        ("deployment.missing-header", "x-content-type-options"),
        ("deployment.missing-header", "referrer-policy"),
        ("deployment.missing-header", "x-frame-options"),
        ("deployment.server-version", "Server"),  # BaseHTTP/0.6 Python/3.11
    }
