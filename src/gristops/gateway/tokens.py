"""Access tokens: short-lived JWTs signed with Ed25519 keys that can be rotated.

Keys live in the state DB (state/signing_keys.py), so every gateway process,
on this machine or another one sharing a PostgreSQL state DB, signs and
verifies with the same keys. The newest key signs; older ones keep verifying
the tokens they signed until those expire, after which `prune` deletes them.
A key made by one gateway is picked up by the others within KEY_RESCAN
seconds, and at once when a token signed by it arrives (new kids are looked
up when first seen).

Verification trusts nothing in the header but the kid: the algorithm is fixed
to EdDSA, so `alg: none` and HS256-signed-with-the-public-key tokens fail.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gristops.errors import AuthError, ExpiredToken, Unavailable
from gristops.state.signing_keys import SigningKeys

ISSUER = "gristops"
AUDIENCE = "gristops-gateway"
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud"]
MAX_TOKEN_CHARS = 4096
VERIFIED_CACHE_SIZE = 4096
CLOCK_SKEW = 60  # seconds another gateway's clock may run ahead  # distinct live tokens remembered as verified
# A kid is its creation time in milliseconds plus a random suffix: sorting kids sorts keys by age.
_KID = re.compile(r"^k(\d{13})-([0-9a-f]{8})$")
KEY_RESCAN = 10.0  # seconds between looks for keys another gateway made or pruned
UNKNOWN_KID_LOOKUP = 1.0  # at most one look a second for a kid never seen (forged ones too)
_HINT = "log in again (POST /auth/login) or refresh (POST /auth/refresh)"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: int
    email: str
    role: str
    jti: str
    expires_at: int


def _kid_millis(kid: str) -> int:
    match = _KID.match(kid)
    assert match is not None  # only kids that passed _KID reach here
    return int(match.group(1))


class TokenService:
    """Issue and verify access tokens with the shared signing keys (one made on first use)."""

    def __init__(
        self, keys: SigningKeys, access_ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.access_ttl = access_ttl
        self._clock = clock
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._scanned_at = self._looked_up_at = -KEY_RESCAN
        # Signature checks are the costliest step of a request; a token is checked once.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._scan(0)
        if not self._keys:
            self.rotate()

    @property
    def active_kid(self) -> str:
        """The kid new tokens are signed with: the newest key."""
        self._scan(KEY_RESCAN)
        if not self._keys:  # someone deleted every key: start over with a new key
            self.rotate()
        return max(self._keys)

    def issue(self, user_id: int, email: str, role: str) -> AccessToken:
        kid = self.active_kid
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "email": email,
            "role": role,
            "iat": now,
            "exp": now + self.access_ttl,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, self._keys[kid], algorithm=ALGORITHM, headers={"kid": kid})
        return AccessToken(token, self.access_ttl)

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; AuthError (ExpiredToken when only expired) otherwise.

        Messages never include the token itself.
        """
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at <= self._clock():
                del self._verified[token]
                raise ExpiredToken("access token expired", _HINT)
            return cached
        claims = self._verify_signed(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify_signed(self, token: str) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("invalid access token: too long", _HINT)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("invalid access token: not a JWT", _HINT) from None
        if header.get("alg") != ALGORITHM:
            raise AuthError("invalid access token: unexpected signing algorithm", _HINT)
        kid = header.get("kid")
        key = self._key(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError("invalid access token: signed by an unknown key", _HINT)
        try:
            claims = jwt.decode(
                token,
                key.public_key(),
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Times are checked below against the service's clock, the one that issued them.
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("access token expired", _HINT) from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid access token: {exc}", _HINT) from None
        sub, email, role = claims.get("sub"), claims.get("email"), claims.get("role")
        if not (isinstance(sub, str) and sub.isdigit() and isinstance(email, str)):
            raise AuthError("invalid access token: malformed claims", _HINT)
        if not isinstance(role, str):
            raise AuthError("invalid access token: malformed claims", _HINT)
        now = self._clock()
        if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int):
            raise AuthError("invalid access token: malformed claims", _HINT)
        if claims["exp"] <= now:
            raise ExpiredToken("access token expired", _HINT)
        if claims["iat"] > now + CLOCK_SKEW:
            raise AuthError("invalid access token: issued in the future", _HINT)
        return AccessClaims(int(sub), email, role, str(claims["jti"]), int(claims["exp"]))

    def rotate(self) -> str:
        """Make a new signing key (older keys keep verifying); prune retired ones. Returns its kid."""
        self._scan(0)
        millis = int(self._clock() * 1000)
        if self._keys:  # keep kids ordered by age even when the clock stands still or steps back
            millis = max(millis, _kid_millis(max(self._keys)) + 1)
        kid = f"k{millis:013d}-{secrets.token_hex(4)}"
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.keys.add(kid, pem, self._clock())
        self._keys[kid] = key
        self.prune()
        return kid

    def prune(self) -> list[str]:
        """Delete keys retired longer ago than a token lives; returns their kids."""
        self._scan(0)
        kids = sorted(self._keys)
        now_ms = self._clock() * 1000
        removed = []
        for kid, successor in itertools.pairwise(kids):
            # A key is retired when its successor starts signing; its last token ends access_ttl later.
            if _kid_millis(successor) + (self.access_ttl + 60) * 1000 < now_ms:
                self.keys.delete(kid)
                del self._keys[kid]
                removed.append(kid)
        return removed

    def _key(self, kid: str) -> Ed25519PrivateKey | None:
        if kid not in self._keys and _KID.match(kid):
            # Forged kids must not cost a query each: one look a second, and the
            # periodic rescan finds a real new key even when forgeries used that look up.
            self._scan(KEY_RESCAN)
            now = time.monotonic()
            if kid not in self._keys and now - self._looked_up_at >= UNKNOWN_KID_LOOKUP:
                self._looked_up_at = now
                self._load(kid)
        return self._keys.get(kid)

    def _scan(self, unless_within: float) -> None:
        """Load keys added by other gateways and forget pruned ones, unless the last look
        was less than `unless_within` seconds ago."""
        now = time.monotonic()
        if now - self._scanned_at < unless_within:
            return
        self._scanned_at = now
        stored = {kid for kid in self.keys.kids() if _KID.match(kid)}
        for kid in set(self._keys) - stored:
            del self._keys[kid]
        for kid in stored - set(self._keys):
            self._load(kid)

    def _load(self, kid: str) -> None:
        pem = self.keys.pem(kid)
        if pem is None:
            return
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as exc:
            raise Unavailable(
                f"token signing key {kid} in the state DB is unreadable: {exc}",
                hint="delete its row from signing_keys; tokens it signed stop working",
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise Unavailable(
                f"token signing key {kid} in the state DB is not an Ed25519 key",
                hint="delete its row from signing_keys; gristops makes its own keys",
            )
        self._keys[kid] = key


def adopt_key_files(keys: SigningKeys, keys_dir: Path, now: float) -> list[str]:
    """Move signing keys kept as `<kid>.pem` files (before they lived in the state DB)
    into the state DB, so tokens they signed stay valid; returns their kids."""
    moved = []
    for path in sorted(keys_dir.glob("k*.pem")):
        if _KID.match(path.stem):
            keys.add(path.stem, path.read_bytes(), now)
            path.unlink()
            moved.append(path.stem)
    return moved
