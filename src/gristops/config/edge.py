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
