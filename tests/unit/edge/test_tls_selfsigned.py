"""The bootstrap certificate: shaped so that a strict validator that trusts it accepts it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from gristops.edge.tls.selfsigned import ensure_selfsigned


def _made(tmp_path: Path, server_name: str = "shop.example.com") -> x509.Certificate:
    cert, key = tmp_path / "selfsigned.crt", tmp_path / "selfsigned.key"
    assert ensure_selfsigned(cert, key, server_name)
    assert key.stat().st_mode & 0o777 == 0o600
    return x509.load_pem_x509_certificate(cert.read_bytes())


@pytest.mark.parametrize(
    "name",
    [
        x509.DNSName("shop.example.com"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ],
)
def test_it_passes_x509_verification_when_it_is_trusted(
    tmp_path: Path, name: x509.DNSName | x509.IPAddress
) -> None:
    cert = _made(tmp_path)
    verifier = PolicyBuilder().store(Store([cert])).build_server_verifier(name)
    assert verifier.verify(cert, []) == [cert]


def test_it_carries_key_identifiers_names_and_key_usage(tmp_path: Path) -> None:
    cert = _made(tmp_path)
    ext = cert.extensions
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest  # issued by its own key
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH in ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    names = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "shop.example.com"]


def test_it_fails_verification_for_a_name_it_does_not_carry(tmp_path: Path) -> None:
    cert = _made(tmp_path)
    verifier = (
        PolicyBuilder()
        .store(Store([cert]))
        .build_server_verifier(x509.DNSName("other.example.com"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(cert, [])


def test_an_existing_current_pair_is_kept_and_an_older_one_replaced(tmp_path: Path) -> None:
    cert, key = tmp_path / "selfsigned.crt", tmp_path / "selfsigned.key"
    first = _made(tmp_path)
    assert not ensure_selfsigned(cert, key, "shop.example.com")
    assert x509.load_pem_x509_certificate(cert.read_bytes()) == first
    cert.write_text("not a certificate")  # damaged, or an older shape without an AKI
    assert ensure_selfsigned(cert, key, "shop.example.com")
    assert x509.load_pem_x509_certificate(cert.read_bytes()).serial_number != first.serial_number
