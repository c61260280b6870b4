"""A self-signed certificate so nginx can start HTTPS before a real one is issued.

It is shaped like a CA-issued server certificate (SKI, AKI naming its own key,
SAN, key usage, serverAuth) so that strict validators that trust it accept it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = structlog.get_logger("gristops.edge")
VALID_DAYS = 365


def _names(server_name: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    for name in server_name.split():
        # Wildcards, regexes and the catch-all "_" are nginx syntax, not certificate names.
        if name not in ("_", "localhost") and not any(c in name for c in "~*^$()"):
            names.append(x509.DNSName(name))
    return names


SIGNING_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _current(certificate: Path) -> bool:
    """The file holds a bootstrap certificate of today's shape (older ones lack an AKI)."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.read_bytes())
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return True


def ensure_selfsigned(certificate: Path, key: Path, server_name: str) -> bool:
    """Write a self-signed pair unless both files hold a current one; True when it made one."""
    if key.exists() and _current(certificate):
        return False
    write_selfsigned(certificate, key, server_name)
    log.info("self-signed certificate created", certificate=str(certificate))
    return True


def write_selfsigned(certificate: Path, key: Path, server_name: str) -> None:
    """Write a new self-signed pair for `server_name` (and localhost)."""
    certificate.parent.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    own_key = x509.SubjectKeyIdentifier.from_public_key(private.public_key())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gristops bootstrap")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(server_name)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(SIGNING_ONLY, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(own_key, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(own_key), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    pem_key = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key is created 0600 from the start, never readable by others even briefly.
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as sink:
        sink.write(pem_key)
    os.chmod(key, 0o600)
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
