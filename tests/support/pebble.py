"""A real Pebble (Let's Encrypt's ACME test server, Debian `pebble`) on 127.0.0.1.

The Debian package lacks the certificates its example config names, so each
start makes a throwaway CA and a server certificate (localhost, 127.0.0.1) for
Pebble's own HTTPS. Pebble validates HTTP-01 challenges by fetching
http://<domain>:`http_port`/.well-known/acme-challenge/<token>; tests point
`http_port` at the edge nginx, which serves the ACME webroot.
Pebble's issuing root changes at every start: `root_pem` is fetched from its
management interface. `pebble()` is a context manager that always stops it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gristops.runtime.process import Service
from tests.gateway_harness import free_port


@dataclass(frozen=True)
class Pebble:
    directory_url: str
    management_url: str
    https_ca: Path  # trusts Pebble's own HTTPS (the ACME API)
    root_pem: bytes  # the root Pebble issues under, for this run only
    http_port: int

    def root_file(self, directory: Path) -> Path:
        path = directory / "pebble-root.pem"
        path.write_bytes(self.root_pem)
        return path


def _https_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for Pebble's HTTPS; returns (ca, cert, key) files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble test https CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = (directory / "https-ca.pem", directory / "https-cert.pem", directory / "https-key.pem")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@contextmanager
def pebble(
    directory: Path,
    http_port: int,
    validity_seconds: int = 6 * 86400,
    blocked: tuple[str, ...] = (),
) -> Iterator[Pebble]:
    """Run Pebble issuing `validity_seconds` certificates, checking HTTP-01 on `http_port`;
    it refuses orders for the `blocked` names."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, cert, key = _https_certificates(directory)
    api, management = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{api}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "certificateValidityPeriod": validity_seconds,
            "domainBlocklist": list(blocked),
        }
    }
    config_file = directory / "pebble-config.json"
    config_file.write_text(json.dumps(config))
    context = ssl.create_default_context(cafile=str(ca))
    directory_url = f"https://127.0.0.1:{api}/dir"
    management_url = f"https://127.0.0.1:{management}"

    def ready() -> bool:
        with urlopen(directory_url, context=context, timeout=1) as answer:
            return bool(answer.status == 200)

    service = Service(
        "pebble",
        ["pebble", "-config", str(config_file)],
        log_path=directory / "pebble.log",
        # No authorization reuse: every order is validated, so a broken webroot shows.
        env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"},
    )
    try:
        service.start(ready=ready, timeout=20)
        with urlopen(f"{management_url}/roots/0", context=context, timeout=5) as answer:
            root = answer.read()
        yield Pebble(directory_url, management_url, ca, root, http_port)
    finally:
        service.stop()
