"""TLS of the deployment, scanned with sslyze: protocol versions, cipher suites, chain, expiry, HSTS.

The bar is Mozilla's "intermediate" profile, which the gristops edge serves:
TLS 1.2 and 1.3 only, ECDHE key exchange with AEAD ciphers, HSTS for a year or more.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gristops.errors import GristopsError
from gristops.scan.findings import Finding, Location, Rule, Severity

if TYPE_CHECKING:
    from sslyze import AllScanCommandsAttempts, ServerScanResult

HSTS_MIN_SECONDS = 31536000
OLD_VERSIONS = {
    "SSL 2.0": "ssl_2_0_cipher_suites",
    "SSL 3.0": "ssl_3_0_cipher_suites",
    "TLS 1.0": "tls_1_0_cipher_suites",
    "TLS 1.1": "tls_1_1_cipher_suites",
}

OLD_PROTOCOL = Rule(
    "tls.old-protocol",
    Severity.HIGH,
    "A protocol version older than TLS 1.2 is accepted",
    "allow only TLSv1.2 and TLSv1.3 (`ssl_protocols TLSv1.2 TLSv1.3;`, as the edge renders)",
)
WEAK_CIPHER = Rule(
    "tls.weak-cipher",
    Severity.MEDIUM,
    "A TLS 1.2 cipher suite without forward secrecy or AEAD is accepted",
    "serve Mozilla's intermediate ciphers only (ECDHE with AES-GCM or ChaCha20)",
)
BAD_CHAIN = Rule(
    "tls.bad-chain",
    Severity.HIGH,
    "The certificate chain does not validate for this host name",
    "serve the full chain of a certificate for this name (`gristops tls issue`)",
)
EXPIRED = Rule(
    "tls.expired",
    Severity.CRITICAL,
    "The certificate has expired",
    "renew it now: `gristops tls renew --force`",
)
EXPIRING = Rule(
    "tls.expiring",
    Severity.MEDIUM,
    "The certificate is past its renewal point",
    "check why renewal failed (`gristops tls status`) and run `gristops tls renew`",
)
NO_HSTS = Rule(
    "tls.hsts",
    Severity.MEDIUM,
    "HSTS is missing or shorter than a year",
    f'add `Strict-Transport-Security "max-age={HSTS_MIN_SECONDS * 2}"` (the edge does)',
)
RULES = (OLD_PROTOCOL, WEAK_CIPHER, BAD_CHAIN, EXPIRED, EXPIRING, NO_HSTS)


class TlsScanFailed(GristopsError):
    """sslyze could not connect or complete a scan command."""


def _scan(url: str, ca_file: Path | None) -> ServerScanResult:
    # sslyze comes with the `scan` extra: imported only when a TLS scan runs.
    from sslyze import (
        CertificateInfoExtraArgument,
        ScanCommand,
        ScanCommandsExtraArguments,
        Scanner,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanStatusEnum,
    )

    commands = {
        ScanCommand.CERTIFICATE_INFO,
        ScanCommand.SSL_2_0_CIPHER_SUITES,
        ScanCommand.SSL_3_0_CIPHER_SUITES,
        ScanCommand.TLS_1_0_CIPHER_SUITES,
        ScanCommand.TLS_1_1_CIPHER_SUITES,
        ScanCommand.TLS_1_2_CIPHER_SUITES,
        ScanCommand.HTTP_HEADERS,
    }
    # sslyze logs every probe at info level: chatter around the report, not news.
    logging.getLogger("sslyze").setLevel(logging.WARNING)
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    # sslyze resolves names itself; localhost goes to 127.0.0.1 (not ::1, which nginx may skip).
    address = "127.0.0.1" if host == "localhost" else None
    location = ServerNetworkLocation(host, parts.port or 443, address)
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file) if ca_file else None
    )
    request = ServerScanRequest(
        server_location=location,
        scan_commands=commands,
        scan_commands_extra_arguments=extra,
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    [result] = list(scanner.get_results())
    if result.scan_status != ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        raise TlsScanFailed(
            f"cannot connect to {host}:{parts.port or 443}: {result.connectivity_error_trace}",
            "check --url and that the edge serves HTTPS there",
        )
    return result


def check_tls(
    url: str, ca_file: Path | None, renew_fraction: float, now: dt.datetime
) -> list[Finding]:
    from sslyze import ScanCommandAttemptStatusEnum

    result = _scan(url, ca_file)
    scan = result.scan_result
    assert scan is not None
    where = Location(url=url)
    found: list[Finding] = []
    for version, field in OLD_VERSIONS.items():
        attempt = getattr(scan, field)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            raise TlsScanFailed(f"{version} probe did not complete: {attempt.error_reason}")
        if attempt.result.accepted_cipher_suites:
            found.append(Finding(OLD_PROTOCOL, where, f"{version} is accepted"))
    tls12 = scan.tls_1_2_cipher_suites.result
    if tls12 is None:
        raise TlsScanFailed("the TLS 1.2 probe did not complete")
    weak = [
        s.cipher_suite.name
        for s in tls12.accepted_cipher_suites
        if not ("ECDHE" in s.cipher_suite.name or "DHE" in s.cipher_suite.name)
        or not any(a in s.cipher_suite.name for a in ("GCM", "CHACHA20", "CCM"))
    ]
    if weak:
        found.append(Finding(WEAK_CIPHER, where, "accepted: " + ", ".join(sorted(weak))))
    found += _certificate(scan, where, renew_fraction, now)
    headers = scan.http_headers.result
    hsts = headers.strict_transport_security_header if headers is not None else None
    if hsts is None or (hsts.max_age or 0) < HSTS_MIN_SECONDS:
        shown = "absent" if hsts is None else f"max-age={hsts.max_age}"
        found.append(Finding(NO_HSTS, where, f"Strict-Transport-Security: {shown}"))
    return found


def _certificate(
    scan: AllScanCommandsAttempts, where: Location, renew_fraction: float, now: dt.datetime
) -> list[Finding]:
    info = scan.certificate_info.result
    if info is None or not info.certificate_deployments:
        raise TlsScanFailed("the certificate probe did not complete")
    deployment = info.certificate_deployments[0]
    found: list[Finding] = []
    trusted = [
        v.trust_store.name
        for v in deployment.path_validation_results
        if v.was_validation_successful
    ]
    if not trusted:  # sslyze validates the path for the scanned host name
        stores = ", ".join(v.trust_store.name for v in deployment.path_validation_results)
        found.append(Finding(BAD_CHAIN, where, f"no trust store validates it ({stores})"))
    leaf = deployment.received_certificate_chain[0]
    not_after, not_before = leaf.not_valid_after_utc, leaf.not_valid_before_utc
    left = not_after - now
    if left.total_seconds() <= 0:
        found.append(Finding(EXPIRED, where, f"expired {not_after:%Y-%m-%d %H:%M} UTC"))
    elif left < (not_after - not_before) * renew_fraction:
        found.append(
            Finding(EXPIRING, where, f"expires {not_after:%Y-%m-%d %H:%M} UTC ({left.days} days)")
        )
    return found
