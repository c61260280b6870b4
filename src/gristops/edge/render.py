"""Render nginx.conf from the config: TLS edge, gateway upstreams, static web app.

The text is deterministic (same inputs, same bytes), so "did anything change?"
is a string comparison and every render can be checked with `nginx -t` first.
"""

from __future__ import annotations

import os
from pathlib import Path

from gristops.config import Config
from gristops.edge.layout import EdgePaths
from gristops.errors import ConfigError

# Mozilla "intermediate" (guidelines 6.0) without the DHE suites: ECDHE + AEAD only.
TLS_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
# The profile's key exchange groups; OpenSSL's default list adds X448 and secp521r1.
TLS_CURVES = "X25519:prime256v1:secp384r1"
HSTS_SECONDS = 63072000
# nginx closes an upstream connection idle this long: below uvicorn's 5 s, so nginx closes
# first; a retired slot waits this long for nginx to drop its idle connections.
UPSTREAM_IDLE_SECONDS = 4
# Methods nginx may pass on to another gateway after a failure (see the map in render()).
PASSED_ON_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PATCH")
# POSTs passed on even after a gateway received them, when its answer was lost (it died): a
# login asked again is a new login (the lost one is never used); a refresh asked again is the
# retry auth.refresh_retry_window answers with a new pair. On an error only, never on a time
# out: a slow gateway may still answer, and logins replayed under load multiply bcrypt's work.
REPLAYED_AUTH = ("/auth/login", "/auth/refresh")
LOOPBACK_ONLY = ["allow 127.0.0.1;", "allow ::1;", "deny all;"]

# The wheel's nginx has no mime.types beside it: the types a web app bundle uses.
MIME_TYPES = {
    "text/html": "html htm",
    "text/css": "css",
    "text/plain": "txt",
    "application/javascript": "js mjs",
    "application/json": "json map",
    "application/manifest+json": "webmanifest",
    "application/wasm": "wasm",
    "application/xml": "xml",
    "image/png": "png",
    "image/jpeg": "jpg jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "image/x-icon": "ico",
    "font/woff2": "woff2",
    "font/woff": "woff",
    "font/ttf": "ttf",
    "font/otf": "otf",
}
GZIP_TYPES = (
    "text/css text/plain application/javascript application/json "
    "application/manifest+json application/wasm application/xml image/svg+xml"
)
# File names carrying a content hash (main.3f2a9c1d.js) never change: cache them for a year.
HASHED_ASSET = r"\.[0-9a-f]{8,}\.(?:js|mjs|css|wasm|png|jpe?g|gif|webp|svg|ico|woff2?|ttf|otf)$"
JSON_LOG = (
    '{"time":"$time_iso8601","remote_addr":"$remote_addr","method":"$request_method",'
    '"uri":"$request_uri","status":$status,"bytes":$body_bytes_sent,'
    '"request_time":$request_time,"upstream":"$upstream_addr",'
    '"upstream_time":"$upstream_response_time","request_id":"$request_id",'
    '"host":"$host","user_agent":"$http_user_agent","referer":"$http_referer"}'
)


def _security_headers(csp: str | None) -> list[str]:
    """Every response's headers; repeated per location because add_header does not inherit."""
    lines = [
        f'add_header Strict-Transport-Security "max-age={HSTS_SECONDS}" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
        'add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
        'add_header X-Frame-Options "DENY" always;',
    ]
    if csp is not None:
        lines.append(f'add_header Content-Security-Policy "{csp}" always;')
    return lines


def _q(path: Path) -> str:
    """A path as a quoted nginx string; characters nginx would interpret are refused."""
    text = str(path)
    if any(c in text for c in '"$\\'):
        raise ConfigError(
            f"the path {text!r} cannot be used in nginx's config",
            "choose a path without quotes, $ or backslashes",
        )
    return f'"{text}"'


def _block(head: str, body: list[str]) -> list[str]:
    """`head { body }`, the body indented one level (nested blocks nest)."""
    return [f"{head} {{", *(f"    {line}" for line in body), "}"]


def _proxy(extra: list[str] | None = None) -> list[str]:
    return [
        *(extra or []),
        "proxy_pass http://gristops_gateway;",
        *_security_headers("frame-ancestors 'none'"),
    ]


def _upstream(config: Config, local_port: int) -> list[str]:
    """The gateways, and how many tries a request gets (proxy_next_upstream_tries)."""
    edge = config.edge
    keep = [f"keepalive {edge.upstream_keepalive};", f"keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;"]
    if edge.upstreams == ("local",):
        # One gateway, the same address twice: an idempotent request whose pooled
        # connection was closed under it is retried once on a fresh connection.
        servers = [
            f"server 127.0.0.1:{local_port} max_fails=0;",
            f"server 127.0.0.1:{local_port} max_fails=0 backup;",
        ]
        return [
            *_block("upstream gristops_gateway", [*servers, *keep]),
            "proxy_next_upstream_tries 2;",
        ]
    # Passive health checks: a gateway that failed max_fails times within fail_timeout
    # gets no request for fail_timeout; the zone shares that among nginx's workers.
    health = f"max_fails={edge.upstream_max_fails} fail_timeout={edge.upstream_fail_timeout}s"
    servers = [
        f"server {f'127.0.0.1:{local_port}' if name == 'local' else name} {health};"
        for name in edge.upstreams
    ]
    return [
        *_block("upstream gristops_gateway", ["zone gristops_gateway 64k;", *servers, *keep]),
        f"proxy_next_upstream_tries {len(servers)};",
    ]


def _gateway_location(head: str) -> list[str]:
    """A location whose requests of $gristops_once methods go through @gateway_once."""
    return _block(
        head,
        [
            "error_page 418 = @gateway_once;",
            *_block("if ($gristops_once)", ["return 418;"]),
            *_proxy(),
        ],
    )


def _static(web_root: Path, csp: str) -> list[str]:
    headers = _security_headers(csp)
    lines: list[str] = []
    lines += _block(
        f'location ~* "{HASHED_ASSET}"',
        [
            f"root {_q(web_root)};",
            'add_header Cache-Control "public, max-age=31536000, immutable";',
            *headers,
        ],
    )
    lines += _block(
        "location /",
        [
            f"root {_q(web_root)};",
            "try_files $uri $uri/ /index.html;",
            'add_header Cache-Control "no-cache";',
            *headers,
        ],
    )
    return lines


def render(config: Config, *, upstream_port: int, web_root: Path | None) -> str:
    """nginx.conf for the edge: HTTPS to edge.upstreams, `local` being 127.0.0.1:`upstream_port`.

    `web_root` is the static web app to serve at / (None: every path goes to the gateway).
    """
    edge = config.edge
    paths = EdgePaths.of(config)
    cert, key = paths.certificate(config)
    addr = edge.listen_address
    https_suffix = "" if edge.https_port == 443 else f":{edge.https_port}"
    workers = "auto" if edge.worker_processes == 0 else str(edge.worker_processes)
    top = [
        "# Rendered by gristops edge; edit gristops.yaml, not this file.",
        f"worker_processes {workers};",
        f"pid {_q(paths.pid)};",
        f"error_log {_q(paths.error_log)} warn;",
    ]
    if edge.worker_user is not None and os.geteuid() == 0:
        top.append(f"user {edge.worker_user};")
    temp = paths.temp
    http = [
        *_block("types", [f"{t} {ext};" for t, ext in MIME_TYPES.items()]),
        "default_type application/octet-stream;",
        f"client_body_temp_path {_q(temp / 'client_body')};",
        f"proxy_temp_path {_q(temp / 'proxy')};",
        f"fastcgi_temp_path {_q(temp / 'fastcgi')};",
        f"uwsgi_temp_path {_q(temp / 'uwsgi')};",
        f"scgi_temp_path {_q(temp / 'scgi')};",
        "server_tokens off;",
        "sendfile on;",
        "keepalive_timeout 65s;",
        f"client_max_body_size {edge.max_body_bytes};",
        f"log_format gristops_json escape=json '{JSON_LOG}';",
        f"access_log {_q(paths.access_log)} gristops_json;",
        "gzip on;",
        "gzip_vary on;",
        "gzip_min_length 1024;",
        f"gzip_types {GZIP_TYPES};",
        f"limit_req_zone $binary_remote_addr zone=gristops_auth:10m rate={edge.auth_rate_per_minute}r/m;",
        "limit_req_status 429;",
        *_upstream(config, upstream_port),
        # Which requests go through @gateway_once, where nothing is passed on to another
        # gateway. A GET, HEAD or OPTIONS is safe to ask twice. nginx itself never passes on
        # a POST or PATCH once a gateway may have received it (logins and refreshes aside,
        # REPLAYED_AUTH), only when no connection was made (no gateway saw it): a replayed
        # POST would add the rows twice, a replayed PATCH
        # could overwrite a newer write. PUT (the records upsert) and DELETE, and any other
        # method, nginx would replay after a gateway received them, perhaps while that
        # gateway still applies them: so they are never passed on.
        *_block(
            "map $request_method $gristops_once",
            ["default 1;", *(f"{method} 0;" for method in PASSED_ON_METHODS)],
        ),
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-ID $request_id;",
        "proxy_next_upstream error timeout;",  # non_idempotent only for REPLAYED_AUTH
        "proxy_connect_timeout 2s;",
        f"proxy_read_timeout {edge.proxy_timeout:g}s;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_ciphers {TLS_CIPHERS};",
        f"ssl_ecdh_curve {TLS_CURVES};",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_timeout 1d;",
        "ssl_session_cache shared:gristops_tls:10m;",
        "ssl_session_tickets off;",
    ]
    plain = _block(
        "server",
        [
            f"listen {addr}:{edge.http_port};",
            f"server_name {edge.server_name};",
            *_block(
                "location ^~ /.well-known/acme-challenge/",
                [
                    f"root {_q(paths.acme_webroot)};",
                    "default_type text/plain;",
                    "try_files $uri =404;",
                ],
            ),
            *_block("location /", [f"return 301 https://$host{https_suffix}$request_uri;"]),
        ],
    )
    auth_limit = f"limit_req zone=gristops_auth burst={edge.auth_burst} nodelay;"
    gateway_routes = [
        *_block("location = /health", _proxy()),
        *_block("location = /ready", _proxy()),
        # Metrics and the API's own docs are for this host only (`gristops scan` checks it).
        *_block("location = /metrics", _proxy(LOOPBACK_ONLY)),
        *_block("location = /api/docs", _proxy(LOOPBACK_ONLY)),
        *_block("location = /openapi.json", _proxy(LOOPBACK_ONLY)),
        *_block("location /auth/", _proxy([auth_limit])),
        *(
            line
            for path in REPLAYED_AUTH
            for line in _block(
                f"location = {path}",
                _proxy([auth_limit, "proxy_next_upstream error non_idempotent;"]),
            )
        ),
        *_gateway_location("location /api/"),
        *_block("location @gateway_once", ["proxy_next_upstream off;", *_proxy()]),
    ]
    if web_root is None:
        gateway_routes += _gateway_location("location /")
    else:
        # absolute(), not resolve(): a deploy's web link is followed by nginx per request.
        gateway_routes += _static(web_root.absolute(), edge.content_security_policy)
    tls = _block(
        "server",
        [
            f"listen {addr}:{edge.https_port} ssl;",
            "http2 on;",
            f"server_name {edge.server_name};",
            f"ssl_certificate {_q(cert)};",
            f"ssl_certificate_key {_q(key)};",
            *gateway_routes,
        ],
    )
    lines = [
        *top,
        *_block("events", ["worker_connections 1024;"]),
        *_block("http", [*http, *plain, *tls]),
    ]
    return "\n".join(lines) + "\n"
