"""What the rendered nginx.conf promises: TLS profile, redirects, limits, upstream retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gristops.config import Config
from gristops.edge.render import render
from gristops.errors import ConfigError


def make_config(tmp_path: Path, **edge: object) -> Config:
    return Config.model_validate(
        {"data_dir": str(tmp_path), "grist": {"document_id": "Shop"}, "edge": edge}
    )


def test_tls_is_mozilla_intermediate_without_stapling(tmp_path: Path) -> None:
    text = render(make_config(tmp_path), upstream_port=8601, web_root=None)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    ciphers = next(line for line in text.splitlines() if "ssl_ciphers" in line)
    assert "ECDHE" in ciphers and "DHE-RSA" not in ciphers.replace("ECDHE-RSA", "")
    assert "CBC" not in ciphers and "SHA;" not in ciphers
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1;" in text  # not X448 nor secp521r1
    assert "stapling" not in text
    assert 'Strict-Transport-Security "max-age=63072000"' in text


def test_self_signed_until_a_certificate_is_configured(tmp_path: Path) -> None:
    text = render(make_config(tmp_path), upstream_port=8601, web_root=None)
    assert "selfsigned.crt" in text
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    configured = make_config(tmp_path, tls_certificate=str(cert), tls_certificate_key=str(key))
    text = render(configured, upstream_port=8601, web_root=None)
    assert f'ssl_certificate "{cert}";' in text and "selfsigned" not in text


def test_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tls_certificate_key"):
        make_config(tmp_path, tls_certificate=str(tmp_path / "a.crt"))


def test_one_box_retries_a_stale_connection_on_the_active_slot(tmp_path: Path) -> None:
    text = render(make_config(tmp_path), upstream_port=8602, web_root=None)
    assert "server 127.0.0.1:8602 max_fails=0;" in text
    assert "server 127.0.0.1:8602 max_fails=0 backup;" in text
    assert "proxy_next_upstream error timeout;" in text
    assert "proxy_next_upstream_tries 2;" in text
    assert text.count("non_idempotent") == 2  # logins and refreshes only, see below
    assert "keepalive 16;" in text
    assert "zone gristops_gateway" not in text


def test_several_upstreams_have_passive_health_checks(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        upstreams=["local", "10.0.0.12:8484", "[fd00::3]:8484", "gw3.internal:8484"],
        upstream_max_fails=3,
        upstream_fail_timeout=20,
    )
    text = render(config, upstream_port=8602, web_root=None)
    health = "max_fails=3 fail_timeout=20s;"
    for server in ("127.0.0.1:8602", "10.0.0.12:8484", "[fd00::3]:8484", "gw3.internal:8484"):
        assert f"server {server} {health}" in text
    assert "backup" not in text
    assert "zone gristops_gateway 64k;" in text  # the workers share what they learn
    assert "proxy_next_upstream_tries 4;" in text and "keepalive 16;" in text


def test_only_safe_or_unsent_requests_are_passed_on(tmp_path: Path) -> None:
    text = render(make_config(tmp_path), upstream_port=8602, web_root=None)
    mapping = text[text.index("map $request_method $gristops_once") :]
    mapping = mapping[: mapping.index("}")]
    assert "default 1;" in mapping
    assert all(f"{m} 0;" in mapping for m in ("GET", "HEAD", "OPTIONS", "POST", "PATCH"))
    assert "PUT" not in mapping and "DELETE" not in mapping
    once = text[text.index("location @gateway_once {") :]
    assert "proxy_next_upstream off;" in once[: once.index("}")]
    for location in ("location /api/ {", "location / {"):
        body = text[text.rindex(location) :]
        assert body.index("error_page 418 = @gateway_once;") < body.index("proxy_pass")


@pytest.mark.parametrize("upstreams", [["local"], ["10.0.0.11:8484", "10.0.0.12:8484"]])
def test_a_login_or_refresh_whose_answer_was_lost_is_passed_on(
    tmp_path: Path, upstreams: list[str]
) -> None:
    """On an error only: a login or refresh that timed out is not sent to a second gateway."""
    text = render(make_config(tmp_path, upstreams=upstreams), upstream_port=8602, web_root=None)
    for path in ("/auth/login", "/auth/refresh"):
        body = text[text.index(f"location = {path} {{") :]
        body = body[: body.index("}")]
        assert "proxy_next_upstream error non_idempotent;" in body
        assert "limit_req zone=gristops_auth burst=10 nodelay;" in body
    logout = text[text.index("location /auth/ {") :]
    assert "non_idempotent" not in logout[: logout.index("}")]
    assert text.count("non_idempotent") == 2


@pytest.mark.parametrize(
    "upstreams",
    [[], ["local", "local"], ["10.0.0.1"], ["10.0.0.1:0"], ["10.0.0.1:70000"], ["a b:80"]],
)
def test_bad_upstreams_are_refused(tmp_path: Path, upstreams: list[str]) -> None:
    with pytest.raises(ValidationError, match="upstreams"):
        make_config(tmp_path, upstreams=upstreams)


def test_limits_and_json_log(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_body_bytes=4096, auth_rate_per_minute=12)
    text = render(config, upstream_port=8601, web_root=None)
    assert "client_max_body_size 4096;" in text
    assert "rate=12r/m" in text and "zone=gristops_auth" in text
    assert "escape=json" in text and str(tmp_path / "logs" / "nginx-access.log") in text


def test_acme_challenges_stay_on_plain_http(tmp_path: Path) -> None:
    text = render(make_config(tmp_path, https_port=8443), upstream_port=8601, web_root=None)
    plain = text.split("listen *:80;")[1].split("listen *:8443 ssl;")[0]
    assert "/.well-known/acme-challenge/" in plain
    assert "return 301 https://$host:8443$request_uri;" in plain


def test_the_same_inputs_render_the_same_text(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    web = tmp_path / "web"
    assert render(config, upstream_port=1, web_root=web) == render(
        config, upstream_port=1, web_root=web
    )


def test_a_path_nginx_would_interpret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        render(make_config(tmp_path), upstream_port=1, web_root=Path("/srv/$app"))


def test_server_name_rejects_directives(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_config(tmp_path, server_name="x; include /etc/passwd")
