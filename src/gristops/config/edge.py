"""The `edge:` section of gristops.yaml: the nginx in front of the gateway slots."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gristops.config.section import Section

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# ACME certificates (gristops tls): the default CA and the names HTTP-01 can validate.
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
# An edge upstream: `local` (this machine's gateway: gristops serve, or the active deploy slot)
# or another gateway's host:port (IPv4, [IPv6] or a host name nginx resolves when it loads).
UPSTREAM = re.compile(r"local|(?:[0-9.]+|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")
HOST_NAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


class EdgeSection(Section):
    """The nginx edge and TLS certificates (gristops edge, tls)."""

    listen_address: str = Field(
        "*", description="Address nginx listens on (* = every interface; 127.0.0.1 for tests)."
    )
    http_port: int = Field(
        80, ge=1, le=65535, description="Plain HTTP: redirects to HTTPS, serves ACME challenges."
    )
    https_port: int = Field(443, ge=1, le=65535, description="HTTPS port.")
    server_name: str = Field(
        "_", description="Host names nginx answers for, space separated (_ = any)."
    )
    web_root: Path | None = Field(
        None,
        description="Static web app (e.g. a Flutter build/web) served at /, with SPA fallback "
        "to index.html; a release's own web bundle takes its place after a deploy.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body nginx passes on (413 above)."
    )
    auth_rate_per_minute: int = Field(
        30, ge=1, description="Requests per minute per client address to /auth/."
    )
    auth_burst: int = Field(10, ge=0, description="Requests over the /auth/ rate let through.")
    upstreams: tuple[str, ...] = Field(
        ("local",),
        description="Gateways nginx balances over: `local` (this machine's gateway, or its "
        "active deploy slot) and other gateways as host:port, e.g. [local, 10.0.0.12:8484].",
    )
    upstream_max_fails: int = Field(
        1,
        ge=0,
        le=100,
        description="Failed attempts within upstream_fail_timeout that take a gateway out of "
        "the rotation for upstream_fail_timeout (0: never; several upstreams only).",
    )
    upstream_fail_timeout: int = Field(
        10, ge=1, le=3600, description="Seconds of the failure window and of the time out."
    )
    upstream_keepalive: int = Field(
        16, ge=1, le=1024, description="Idle connections each worker keeps to the gateway."
    )
    proxy_timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds nginx waits for the gateway's answer."
    )
    content_security_policy: str = Field(
        DEFAULT_CSP, description="Content-Security-Policy header of the static web app."
    )
    worker_processes: int = Field(0, ge=0, le=64, description="nginx workers (0 = one per CPU).")
    worker_user: str | None = Field(
        None,
        description="User nginx's workers run as when started as root (unset: nginx's default, "
        "nobody); it must be able to read web_root.",
    )

    # --- TLS certificate fields (owned by `gristops tls`; names are stable) ---
    tls_certificate: Path | None = Field(
        None,
        description="PEM certificate chain nginx serves. Unset: a self-signed one in "
        "data_dir/tls/selfsigned.crt until `gristops tls` issues a real one.",
    )
    tls_certificate_key: Path | None = Field(
        None, description="PEM private key of tls_certificate."
    )
    acme_webroot: Path | None = Field(
        None,
        description="Directory served at /.well-known/acme-challenge/ over plain HTTP "
        "(unset: data_dir/acme).",
    )
    # --- end of TLS certificate fields ---

    # --- ACME certificates (owned by `gristops tls issue|renew|status`) ---
    tls_domains: tuple[tuple[str, ...], ...] = Field(
        (),
        description="Certificates to obtain over ACME HTTP-01: each item is one certificate, "
        "a host name or a list of names (the first names the certificate and its directory "
        "data_dir/tls/<name>/). Empty: nginx keeps the self-signed bootstrap certificate.",
    )
    acme_directory_url: str = Field(
        LETS_ENCRYPT,
        description="ACME directory of the CA (Let's Encrypt production by default; "
        "https://acme-staging-v02.api.letsencrypt.org/directory for trials).",
    )
    acme_email: str | None = Field(
        None, description="Contact address registered with the CA (expiry and policy notices)."
    )
    acme_account_key: Path | None = Field(
        None,
        description="ACME account key, created 0600 on first use "
        "(unset: data_dir/tls/acme-account.key).",
    )
    acme_ca_bundle: Path | None = Field(
        None,
        description="PEM bundle trusted for the ACME server's own HTTPS (a test CA such as "
        "Pebble's); unset: the system trust store.",
    )
    tls_renew_fraction: float = Field(
        1 / 3,
        gt=0,
        lt=1,
        description="Renew when this fraction of a certificate's lifetime remains "
        "(1/3: day 4 of a 6-day certificate, about day 43 of a 64-day one).",
    )
    acme_ari: bool = Field(
        True,
        description="Follow the CA's ACME Renewal Information (RFC 9773) when it offers it: "
        "renew inside its suggested window if that comes first.",
    )

    @field_validator("tls_domains", mode="before")
    @classmethod
    def _domains_lists(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple((item,) if isinstance(item, str) else item for item in value)
        return value

    @field_validator("tls_domains")
    @classmethod
    def _domains(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        seen: set[str] = set()
        for names in value:
            if not names:
                raise ValueError("each certificate needs at least one host name")
            for name in names:
                if not HOST_NAME.fullmatch(name):
                    raise ValueError(
                        f"{name!r} is not a host name (HTTP-01 cannot validate wildcards or IPs)"
                    )
            if names[0].lower() in seen:
                raise ValueError(f"two certificates are named {names[0]!r}")
            seen.add(names[0].lower())
        return tuple(tuple(n.lower() for n in names) for names in value)

    @field_validator("acme_directory_url")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not re.match(r"^https://[^\s/]+", value):
            raise ValueError("must be an https:// URL (the CA's ACME directory)")
        return value

    # --- end of ACME certificates ---

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one gateway (local is this machine's)")
        for item in value:
            if not UPSTREAM.fullmatch(item) or (
                item != "local" and not 0 < int(item.rsplit(":", 1)[1]) < 65536
            ):
                raise ValueError(f"{item!r} is not `local` nor host:port (e.g. 10.0.0.12:8484)")
        if len(set(value)) != len(value):
            raise ValueError("a gateway is listed twice")
        return value

    @field_validator("server_name")
    @classmethod
    def _server_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.*~^\\$() -]+", value) or not value.strip():
            raise ValueError("must be host names separated by spaces, e.g. 'app.example.com'")
        return value.strip()

    @field_validator("listen_address")
    @classmethod
    def _listen(cls, value: str) -> str:
        if not re.fullmatch(r"\*|[0-9.]+|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+", value):
            raise ValueError("must be *, an IPv4 address, [IPv6] or a host name")
        return value

    @field_validator("content_security_policy")
    @classmethod
    def _csp(cls, value: str) -> str:
        if any(c in value for c in '"\\$\n'):
            raise ValueError("must not contain quotes, backslashes, $ or newlines")
        return value

    @model_validator(mode="after")
    def _pair(self) -> EdgeSection:
        if (self.tls_certificate is None) != (self.tls_certificate_key is None):
            raise ValueError(
                "set both edge.tls_certificate and edge.tls_certificate_key, or neither"
            )
        return self
