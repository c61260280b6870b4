"""The state DB's record of each certificate: how it was issued, and the last attempt.

Renewal replays what is recorded here (CA directory, names, method), as
certbot's renewal configuration does, so a certificate is renewed from the CA
that issued it even after acme_directory_url changes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from gristops.edge.tls.certs import CertInfo
from gristops.state.db import StateDB

METHOD = "http-01-webroot"
Outcome = Literal["issued", "renewed", "failed"]


@dataclass(frozen=True)
class CertRecord:
    name: str
    domains: tuple[str, ...]
    directory_url: str
    method: str
    account_url: str | None
    serial: str | None
    not_after: float | None
    issued_at: float | None
    ari_renew_at: float | None
    last_attempt_at: float | None
    last_outcome: Outcome | None
    last_error: str | None


COLUMNS = (
    "name, domains, directory_url, method, account_url, serial, not_after, issued_at, "
    "ari_renew_at, last_attempt_at, last_outcome, last_error"
)


class TlsRecords:
    def __init__(self, state: StateDB) -> None:
        self.state = state

    def get(self, name: str) -> CertRecord | None:
        with self.state.reading() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM tls_certificates WHERE name = ?",  # noqa: S608 - fixed columns
                (name,),
            ).fetchone()
        return _record(row) if row else None

    def all(self) -> list[CertRecord]:
        with self.state.reading() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM tls_certificates ORDER BY name"  # noqa: S608 - fixed columns
            ).fetchall()
        return [_record(row) for row in rows]

    def issued(
        self,
        domains: tuple[str, ...],
        directory_url: str,
        account_url: str,
        info: CertInfo,
        outcome: Outcome,
    ) -> None:
        """Record a certificate just installed: how it was issued replaces the old record."""
        now = time.time()
        with self.state.transaction() as conn:
            conn.execute(
                """
                INSERT INTO tls_certificates (name, domains, directory_url, method, account_url,
                    serial, not_before, not_after, issued_at, ari_renew_at, last_attempt_at,
                    last_outcome, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL)
                ON CONFLICT (name) DO UPDATE SET domains = excluded.domains,
                    directory_url = excluded.directory_url, method = excluded.method,
                    account_url = excluded.account_url, serial = excluded.serial,
                    not_before = excluded.not_before, not_after = excluded.not_after,
                    issued_at = excluded.issued_at, ari_renew_at = NULL,
                    last_attempt_at = excluded.last_attempt_at,
                    last_outcome = excluded.last_outcome, last_error = NULL
                """,
                (
                    domains[0],
                    json.dumps(list(domains)),
                    directory_url,
                    METHOD,
                    account_url,
                    info.serial,
                    info.not_before.timestamp(),
                    info.not_after.timestamp(),
                    now,
                    now,
                    outcome,
                ),
            )

    def failed(self, domains: tuple[str, ...], directory_url: str, error: str) -> None:
        """Record a failed attempt; what the certificate in place was issued by is kept."""
        now = time.time()
        with self.state.transaction() as conn:
            conn.execute(
                """
                INSERT INTO tls_certificates (name, domains, directory_url, method,
                    last_attempt_at, last_outcome, last_error)
                VALUES (?, ?, ?, ?, ?, 'failed', ?)
                ON CONFLICT (name) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,
                    last_outcome = 'failed', last_error = excluded.last_error
                """,
                (domains[0], json.dumps(list(domains)), directory_url, METHOD, now, error),
            )

    def set_ari(self, name: str, renew_at: float | None) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "UPDATE tls_certificates SET ari_renew_at = ? WHERE name = ?", (renew_at, name)
            )


def _record(row: Any) -> CertRecord:
    return CertRecord(
        name=row[0],
        domains=tuple(json.loads(row[1])),
        directory_url=row[2],
        method=row[3],
        account_url=row[4],
        serial=row[5],
        not_after=row[6],
        issued_at=row[7],
        ari_renew_at=row[8],
        last_attempt_at=row[9],
        last_outcome=row[10],
        last_error=row[11],
    )
