"""Certificate chains made on the spot (root -> intermediate -> leaf) for TLS unit tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gristops.edge.tls.certs import new_key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Chain:
    fullchain: bytes  # leaf then intermediate
    key: bytes  # the leaf's private key


def make_chain(
    names: tuple[str, ...],
    *,
    not_before: dt.datetime | None = None,
    lifetime: dt.timedelta = dt.timedelta(days=6),
    issuer_name: str = "Test Intermediate",
) -> Chain:
    """A leaf for `names` signed by an intermediate signed by a root (not included)."""
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = (
        x509.CertificateBuilder()
        .subject_name(_name(issuer_name))
        .issuer_name(_name("Test Root"))
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(days=1))
        .not_valid_after(start + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key_pem = new_key()
    leaf_key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(inter.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(  # ARI names a certificate by its issuer's key id and its serial
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
            critical=False,
        )
        .sign(inter_key, hashes.SHA256())
    )
    return Chain(_pem(leaf) + _pem(inter), key_pem)
