"""What `gristops tls status` and the TLS metrics report: read from disk and the state DB only.

Listed: each certificate of edge.tls_domains (source "acme"), the certificate
edge.tls_certificate names when it is none of those ("configured"), and the
self-signed bootstrap certificate while nginx serves it ("self-signed").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gristops.config import Config
from gristops.edge.layout import CertPaths, EdgePaths
from gristops.edge.tls.certs import CertInfo, read_info
from gristops.edge.tls.records import CertRecord, TlsRecords
from gristops.edge.tls.renewal import renew_at
from gristops.errors import GristopsError
from gristops.state.db import StateDB

Source = Literal["acme", "configured", "self-signed"]


@dataclass(frozen=True)
class CertStatus:
    name: str
    source: Source
    path: Path
    info: CertInfo | None  # None: not issued yet, or unreadable
    renew_at: dt.datetime | None
    record: CertRecord | None
    problem: str | None = None

    def days_left(self, now: dt.datetime) -> float | None:
        if self.info is None:
            return None
        return (self.info.not_after - now).total_seconds() / 86400

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        info, record = self.info, self.record
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "present": info is not None,
            "names": list(info.names) if info else [],
            "issuer": info.issuer if info else None,
            "not_before": info.not_before.isoformat() if info else None,
            "not_after": info.not_after.isoformat() if info else None,
            "days_left": None if info is None else round(self.days_left(now) or 0.0, 2),
            "renew_at": self.renew_at.isoformat() if self.renew_at else None,
            "renewal_due": self.renew_at is not None and now >= self.renew_at,
            "ca": record.directory_url if record else None,
            "last_outcome": record.last_outcome if record else None,
            "last_error": record.last_error if record else None,
            "problem": self.problem,
        }


def _read(path: Path) -> tuple[CertInfo | None, str | None]:
    if not path.exists():
        return None, None
    try:
        return read_info(path), None
    except GristopsError as exc:
        return None, exc.message


def certificate_status(config: Config, state: StateDB) -> list[CertStatus]:
    """Every certificate the edge has or should have, in configuration order."""
    records = TlsRecords(state)
    edge = config.edge
    found: list[CertStatus] = []
    for domains in edge.tls_domains:
        name = domains[0]
        path = CertPaths.of(config, name).fullchain
        info, problem = _read(path)
        record = records.get(name)
        ari = None
        if record is not None and record.ari_renew_at is not None and edge.acme_ari:
            ari = dt.datetime.fromtimestamp(record.ari_renew_at, dt.UTC)
        due = renew_at(info, edge.tls_renew_fraction, ari) if info else None
        found.append(CertStatus(name, "acme", path, info, due, record, problem))
    ours = {s.path.resolve() for s in found}
    served, _key = EdgePaths.of(config).certificate(config)
    if served.resolve() not in ours and served.exists():
        source: Source = "configured" if edge.tls_certificate is not None else "self-signed"
        info, problem = _read(served)
        due = info.renew_at(edge.tls_renew_fraction) if info and source == "configured" else None
        found.append(CertStatus(served.name, source, served, info, due, None, problem))
    return found
