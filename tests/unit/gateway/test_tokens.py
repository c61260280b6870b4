"""Access tokens: Ed25519 JWTs, key files, rotation, and the attacks verification must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gristops.errors import AuthError, ExpiredToken
from gristops.gateway.tokens import AUDIENCE, ISSUER, TokenService, adopt_key_files
from gristops.state.db import StateDB
from gristops.state.signing_keys import SigningKeys

TTL = 900


def keys_in(tmp_path: Path) -> SigningKeys:
    return SigningKeys(StateDB(tmp_path / "state.db"))


@pytest.fixture
def service(tmp_path: Path) -> TokenService:
    return TokenService(keys_in(tmp_path), TTL)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "1",
        "email": "admin@shop.test",
        "role": "admin",
        "iat": now,
        "exp": now + 60,
        "jti": "j",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def own_key(service: TokenService) -> Ed25519PrivateKey:
    pem = service.keys.pem(service.active_kid)
    assert pem is not None
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def refused(service: TokenService, token: str) -> AuthError:
    with pytest.raises(AuthError) as err:
        service.verify(token)
    assert token not in err.value.message and token not in err.value.hint
    return err.value


def test_an_issued_token_verifies_and_carries_the_user(service: TokenService) -> None:
    issued = service.issue(3, "alice@shop.test", "user")
    assert issued.expires_in == TTL
    got = service.verify(issued.token)
    assert (got.user_id, got.email, got.role) == (3, "alice@shop.test", "user")
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "EdDSA" and header["kid"] == service.active_kid
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert payload["iss"] == "gristops" and payload["sub"] == "3"
    assert payload["exp"] - payload["iat"] == TTL
    assert service.issue(3, "alice@shop.test", "user").token != issued.token  # fresh jti


def test_key_files_of_earlier_releases_move_into_the_state_db(tmp_path: Path) -> None:
    keys_dir, keys = tmp_path / "keys", keys_in(tmp_path)
    keys_dir.mkdir()
    kid = "k1700000000000-0123abcd"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (keys_dir / f"{kid}.pem").write_bytes(pem)
    (keys_dir / "backup.age").write_text("not a signing key")
    assert adopt_key_files(keys, keys_dir, now=1.0) == [kid]
    assert keys.pem(kid) == pem and not (keys_dir / f"{kid}.pem").exists()
    assert (keys_dir / "backup.age").exists()
    assert TokenService(keys, TTL).active_kid == kid  # it goes on signing


def test_alg_none_is_refused(service: TokenService) -> None:
    header = {"alg": "none", "kid": service.active_kid, "typ": "JWT"}
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}."
    assert "algorithm" in refused(service, token).message


def test_hs256_signed_with_the_public_key_is_refused(service: TokenService) -> None:
    public_pem = (
        own_key(service)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": service.active_kid, "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert "algorithm" in refused(service, f"{signing_input}.{b64(mac)}").message


def test_a_key_it_does_not_hold_is_refused(service: TokenService) -> None:
    stranger = Ed25519PrivateKey.generate()
    forged = jwt.encode(claims(), stranger, algorithm="EdDSA", headers={"kid": service.active_kid})
    refused(service, forged)
    unknown = jwt.encode(
        claims(), stranger, algorithm="EdDSA", headers={"kid": "k0000000000001-deadbeef"}
    )
    assert "unknown key" in refused(service, unknown).message
    path_kid = jwt.encode(
        claims(), stranger, algorithm="EdDSA", headers={"kid": "../../etc/passwd"}
    )
    assert "unknown key" in refused(service, path_kid).message
    no_kid = jwt.encode(claims(), own_key(service), algorithm="EdDSA")
    refused(service, no_kid)


def test_expired_tokens_are_refused_as_expired(tmp_path: Path) -> None:
    keys = keys_in(tmp_path)
    past = TokenService(keys, TTL, clock=lambda: time.time() - TTL - 5)
    token = past.issue(1, "admin@shop.test", "admin").token
    with pytest.raises(ExpiredToken) as err:
        TokenService(keys, TTL).verify(token)
    assert err.value.hint


def test_tampered_payload_or_signature_is_refused(service: TokenService) -> None:
    token = service.issue(3, "alice@shop.test", "user").token
    head, payload, sig = token.split(".")
    body = json.loads(unb64(payload))
    body["role"] = "admin"
    refused(service, f"{head}.{b64(json.dumps(body).encode())}.{sig}")
    flipped = bytearray(unb64(sig))
    flipped[0] ^= 1
    refused(service, f"{head}.{payload}.{b64(bytes(flipped))}")
    refused(service, "not-a-jwt")
    refused(service, "x" * 5000)


@pytest.mark.parametrize(
    "bad",
    [
        {"iss": "someone-else"},
        {"aud": "another-service"},
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"jti": None},
        {"sub": "not-a-number"},
        {"role": None},
    ],
)
def test_wrong_issuer_audience_or_missing_claims_are_refused(
    service: TokenService, bad: dict[str, object]
) -> None:
    token = jwt.encode(
        claims(**bad), own_key(service), algorithm="EdDSA", headers={"kid": service.active_kid}
    )
    refused(service, token)


def test_rotation_keeps_old_tokens_valid_until_pruned(tmp_path: Path) -> None:
    now = [time.time()]
    service = TokenService(keys_in(tmp_path), TTL, clock=lambda: now[0])
    old_kid = service.active_kid
    old_token = service.issue(1, "admin@shop.test", "admin").token
    new_kid = service.rotate()
    assert service.active_kid == new_kid != old_kid
    new_token = service.issue(1, "admin@shop.test", "admin").token
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert service.verify(old_token).user_id == 1
    assert service.prune() == []  # tokens of the old key may still be alive
    now[0] += TTL + 61
    assert service.prune() == [old_kid]
    assert service.keys.pem(old_kid) is None
    assert "expired" in refused(service, old_token).message
    fresh = TokenService(service.keys, TTL, clock=lambda: now[0])
    assert "unknown key" in refused(fresh, old_token).message
    assert jwt.get_unverified_header(new_token)["kid"] == service.active_kid  # not pruned
    assert service.verify(service.issue(1, "admin@shop.test", "admin").token).user_id == 1


def test_a_verified_token_is_remembered_until_it_expires(tmp_path: Path) -> None:
    now = [time.time()]
    service = TokenService(keys_in(tmp_path), TTL, clock=lambda: now[0])
    token = service.issue(3, "alice@shop.test", "user").token
    first = service.verify(token)
    assert service.verify(token) is first  # the signature is not checked twice
    now[0] += TTL + 1
    assert "expired" in refused(service, token).message
    assert "expired" in refused(service, token).message  # and stays refused


def test_another_gateway_picks_up_a_rotated_key(state_location: Path | str) -> None:
    first = TokenService(SigningKeys(StateDB(state_location)), TTL)
    second = TokenService(SigningKeys(StateDB(state_location)), TTL)
    assert first.active_kid == second.active_kid  # the second reused the first's key
    kid = first.rotate()
    token = first.issue(2, "manager@shop.test", "manager").token
    assert second.verify(token).user_id == 2  # an unknown kid is looked up at once
    assert second.active_kid == kid


@pytest.mark.parametrize(
    "bad",
    [{"iat": int(time.time()) + 3600}, {"exp": "soon"}, {"iat": 1.5}],
    ids=["issued-in-the-future", "exp-not-a-number", "iat-not-an-int"],
)
def test_impossible_times_are_refused(service: TokenService, bad: dict[str, object]) -> None:
    token = jwt.encode(
        claims(**bad), own_key(service), algorithm="EdDSA", headers={"kid": service.active_kid}
    )
    refused(service, token)
