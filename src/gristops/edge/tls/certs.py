"""Certificates on disk: where each lives, what it says, whether a new one may replace it.

A certificate named `name` (the first of its host names) lives in
data_dir/tls/<name>/fullchain.pem (leaf first, then intermediates) and
privkey.pem (0600). A candidate is installed only once it validates: the chain
parses and each certificate is signed by the next, the key matches the leaf,
the leaf covers every requested name, and it is valid now.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gristops.edge.layout import CertPaths
from gristops.errors import CertificateError
from gristops.files import publish, stage, write_atomic


@dataclass(frozen=True)
class CertInfo:
    """What a person wants to know about a certificate."""

    names: tuple[str, ...]
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def lifetime(self) -> dt.timedelta:
        return self.not_after - self.not_before

    def renew_at(self, fraction: float) -> dt.datetime:
        """When `fraction` of the lifetime remains (1/3: day 4 of a 6-day certificate)."""
        return self.not_after - self.lifetime * fraction


def load_chain(pem: bytes, where: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateError(
            f"{where} holds no readable PEM certificate: {exc}", "issue it again"
        ) from None
    return chain


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def _issuer(cert: x509.Certificate) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        values = cert.issuer.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return cert.issuer.rfc4514_string()


def describe(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        names=_names(cert),
        issuer=_issuer(cert),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def read_info(path: Path) -> CertInfo:
    """The leaf certificate of the PEM file at `path`."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise CertificateError(
            f"cannot read the certificate {path}: {exc.strerror}", "issue it again"
        ) from None
    return describe(load_chain(pem, str(path))[0])


def new_key() -> bytes:
    """A fresh ECDSA P-256 private key (PEM): small, fast, and every client speaks it."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def validate(
    fullchain: bytes, key_pem: bytes, names: tuple[str, ...], now: dt.datetime | None = None
) -> CertInfo:
    """The leaf's description if the chain may be served for `names`; CertificateError if not."""
    chain = load_chain(fullchain, "the new certificate")
    leaf = chain[0]
    bad = "the old certificate stays in place"
    for cert, issuer in itertools.pairwise(chain):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CertificateError(
                f"the new chain is broken at {_issuer(cert)}: {exc}", bad
            ) from None
    key = serialization.load_pem_private_key(key_pem, password=None)
    if key.public_key() != leaf.public_key():
        raise CertificateError("the new certificate does not match its private key", bad)
    info = describe(leaf)
    missing = sorted(set(names) - set(info.names))
    if missing:
        raise CertificateError(f"the new certificate does not cover {', '.join(missing)}", bad)
    now = now or dt.datetime.now(dt.UTC)
    if not info.not_before <= now < info.not_after:
        raise CertificateError(
            f"the new certificate is not valid now ({info.not_before} to {info.not_after})",
            f"{bad}; check this machine's clock",
        )
    return info


def install(paths: CertPaths, fullchain: bytes, key_pem: bytes) -> None:
    """Replace the pair: both written in full first, then each swapped in with one rename."""
    paths.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_tmp = stage(paths.privkey, key_pem, 0o600)
    chain_tmp = stage(paths.fullchain, fullchain, 0o644)
    publish(key_tmp, paths.privkey)
    publish(chain_tmp, paths.fullchain)


def private_key_file(path: Path) -> bytes:
    """The PEM key at `path`, created (0600) when missing; used for the ACME account key."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, new_key(), 0o600)
    return path.read_bytes()
