"""Where the edge keeps its files: nginx's prefix, logs, the bootstrap and ACME certificates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gristops.config import Config


@dataclass(frozen=True)
class CertPaths:
    directory: Path

    @classmethod
    def of(cls, config: Config, name: str) -> CertPaths:
        return cls(config.data_dir.resolve() / "tls" / name)

    @property
    def fullchain(self) -> Path:
        return self.directory / "fullchain.pem"

    @property
    def privkey(self) -> Path:
        return self.directory / "privkey.pem"

    def exists(self) -> bool:
        return self.fullchain.exists() and self.privkey.exists()


@dataclass(frozen=True)
class EdgePaths:
    """Absolute paths (nginx resolves relative ones against its prefix, not the cwd)."""

    prefix: Path
    logs: Path
    tls: Path
    acme_webroot: Path

    @classmethod
    def of(cls, config: Config) -> EdgePaths:
        data = config.data_dir.resolve()
        webroot = config.edge.acme_webroot
        return cls(
            prefix=data / "edge",
            logs=data / "logs",
            tls=data / "tls",
            acme_webroot=webroot.resolve() if webroot else data / "acme",
        )

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def previous_conf(self) -> Path:
        return self.prefix / "nginx.conf.previous"

    @property
    def pid(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def temp(self) -> Path:
        return self.prefix / "tmp"

    @property
    def access_log(self) -> Path:
        return self.logs / "nginx-access.log"

    @property
    def error_log(self) -> Path:
        return self.logs / "nginx-error.log"

    @property
    def selfsigned_certificate(self) -> Path:
        return self.tls / "selfsigned.crt"

    @property
    def selfsigned_key(self) -> Path:
        return self.tls / "selfsigned.key"

    def certificate(self, config: Config) -> tuple[Path, Path]:
        """The certificate and key nginx serves: the configured pair, else the first ACME
        certificate once `gristops tls issue` obtained it, else the self-signed bootstrap."""
        edge = config.edge
        if edge.tls_certificate is not None and edge.tls_certificate_key is not None:
            return edge.tls_certificate.resolve(), edge.tls_certificate_key.resolve()
        if edge.tls_domains:
            issued = CertPaths.of(config, edge.tls_domains[0][0])
            if issued.exists():
                return issued.fullchain, issued.privkey
        return self.selfsigned_certificate, self.selfsigned_key

    def make_dirs(self) -> None:
        for directory in (self.prefix, self.temp, self.logs, self.tls, self.acme_webroot):
            directory.mkdir(parents=True, exist_ok=True)
