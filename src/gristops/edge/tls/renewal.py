"""`gristops tls`: obtain, renew and report the edge's ACME certificates.

Each entry of edge.tls_domains is one certificate. A certificate is renewed
when `tls_renew_fraction` of its lifetime remains (a third by default: this
works for 6-day and 64-day certificates alike), or earlier when the CA's
renewal information (ARI) says so. A new certificate replaces the old one only
after it validates, and only then is nginx reloaded; a failed attempt leaves
the old one serving. A batch goes on past one failure and reports each result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from gristops.config import Config
from gristops.edge.layout import CertPaths, EdgePaths
from gristops.edge.tls.acme import AcmeClient
from gristops.edge.tls.certs import CertInfo, install, new_key, read_info, validate
from gristops.edge.tls.records import TlsRecords
from gristops.errors import CertificateError, GristopsError, TlsFailed
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.tls")
Result = Literal["issued", "renewed", "not-due", "failed"]
Progress = Callable[[str], None]
# Makes a running nginx serve the new certificate files (False when it is not running);
# given by the caller, which knows where nginx sends traffic right now.
Reload = Callable[[], bool]


@dataclass(frozen=True)
class CertResult:
    name: str
    result: Result
    detail: str
    not_after: dt.datetime | None = None


def install_pair(paths: CertPaths, fullchain: bytes, key: bytes) -> None:
    try:
        install(paths, fullchain, key)
    except OSError as exc:
        raise CertificateError(
            f"cannot write the new certificate in {paths.directory}: {exc.strerror}",
            "check free disk space and that data_dir/tls is writable; the old one stays",
        ) from exc


def account_key_path(config: Config) -> Path:
    return config.edge.acme_account_key or config.data_dir.resolve() / "tls" / "acme-account.key"


def renew_at(info: CertInfo, fraction: float, ari_at: dt.datetime | None) -> dt.datetime:
    """When to renew: a `fraction` of the lifetime before expiry, or ARI's time if earlier."""
    due = info.renew_at(fraction)
    return min(due, ari_at) if ari_at is not None else due


class CertificateManager:
    """The certificates of one gristops.yaml, with one ACME client per CA directory."""

    def __init__(self, config: Config, state: StateDB, reload: Reload) -> None:
        self.config = config
        self.records = TlsRecords(state)
        self.state = state
        self.reload = reload
        self._clients: dict[str, AcmeClient] = {}

    def client(self, directory_url: str) -> AcmeClient:
        if directory_url not in self._clients:
            edge = self.config.edge
            self._clients[directory_url] = AcmeClient(
                directory_url,
                account_key_path(self.config),
                email=edge.acme_email,
                ca_bundle=edge.acme_ca_bundle,
            )
        return self._clients[directory_url]

    def obtain(self, domains: tuple[str, ...], directory_url: str, renewal: bool) -> CertResult:
        """Order, validate and install one certificate; a failure is recorded and returned."""
        name = domains[0]
        try:
            client = self.client(directory_url)
            account = client.register()
            key = new_key()
            webroot = EdgePaths.of(self.config).acme_webroot
            fullchain = client.issue(domains, key, webroot)
            info = validate(fullchain, key, domains)
            install_pair(CertPaths.of(self.config, name), fullchain, key)
        except GristopsError as exc:
            self.records.failed(domains, directory_url, exc.message)
            log.warning("certificate not obtained", name=name, error=exc.message)
            return CertResult(
                name, "failed", f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            )
        outcome: Literal["issued", "renewed"] = "renewed" if renewal else "issued"
        self.records.issued(domains, directory_url, account, info, outcome)
        log.info("certificate installed", name=name, outcome=outcome, not_after=str(info.not_after))
        return CertResult(
            name, outcome, f"valid until {info.not_after:%Y-%m-%d %H:%M} UTC", info.not_after
        )

    def issue(
        self, only: tuple[str, ...] = (), progress: Progress | None = None
    ) -> list[CertResult]:
        """Obtain each configured certificate (or those named in `only`) from the configured CA."""
        wanted = [d for d in self.config.edge.tls_domains if not only or d[0] in only]
        results = []
        for domains in wanted:
            if progress:
                progress(domains[0])
            results.append(self.obtain(domains, self.config.edge.acme_directory_url, renewal=False))
        self._reload_if_changed(results)
        return results

    def renew(
        self,
        *,
        force: bool = False,
        now: dt.datetime | None = None,
        progress: Progress | None = None,
    ) -> list[CertResult]:
        """Renew each certificate that is due (all with `force`); issue missing ones."""
        now = now or dt.datetime.now(dt.UTC)
        results = []
        for domains in self.config.edge.tls_domains:
            if progress:
                progress(domains[0])
            results.append(self._renew_one(domains, force, now))
        self._reload_if_changed(results)
        return results

    def _renew_one(self, domains: tuple[str, ...], force: bool, now: dt.datetime) -> CertResult:
        name = domains[0]
        record = self.records.get(name)
        paths = CertPaths.of(self.config, name)
        if record is None or record.issued_at is None or not paths.exists():
            return self.obtain(domains, self.config.edge.acme_directory_url, renewal=False)
        # Replay how it was issued: same CA; names from the config (they may have grown).
        directory_url = record.directory_url
        try:
            info = read_info(paths.fullchain)
        except GristopsError:
            return self.obtain(domains, directory_url, renewal=True)
        ari_at = self._ari(name, directory_url, paths)
        due = renew_at(info, self.config.edge.tls_renew_fraction, ari_at)
        if force or now >= due or set(domains) != set(record.domains):
            return self.obtain(domains, directory_url, renewal=True)
        return CertResult(name, "not-due", f"renewal due {due:%Y-%m-%d %H:%M} UTC", info.not_after)

    def _ari(self, name: str, directory_url: str, paths: CertPaths) -> dt.datetime | None:
        """ARI's suggested renewal time, remembered for `tls status`; None if not offered."""
        if not self.config.edge.acme_ari:
            return None
        try:
            when = self.client(directory_url).renewal_time(paths.fullchain.read_bytes())
        except GristopsError as exc:
            # ARI is advice: without it the lifetime fraction still decides.
            log.warning("renewal information unavailable", name=name, error=exc.message)
            return None
        self.records.set_ari(name, when.timestamp() if when else None)
        return when

    def _reload_if_changed(self, results: list[CertResult]) -> None:
        if any(r.result in ("issued", "renewed") for r in results):
            self.reload()


def raise_for_failures(results: list[CertResult]) -> None:
    """TlsFailed naming every failed certificate (after all of them were tried)."""
    failed = [r for r in results if r.result == "failed"]
    if failed:
        raise TlsFailed(
            "\n".join(f"certificate {r.name}: {r.detail}" for r in failed),
            "the previous certificates keep serving; fix the cause and run `gristops tls renew`",
        )
