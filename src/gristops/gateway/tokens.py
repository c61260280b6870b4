"""Access tokens: short-lived JWTs signed with Ed25519 keys that can be rotated.

Keys live in `keys_dir` as PKCS#8 PEM files named `<kid>.pem` (mode 0600, the
directory 0700). The newest key signs; older ones keep verifying the tokens
they signed until those expire, after which `prune` deletes them. Every
gateway process reads the same directory, so a key made by one is picked up
by the others (new kids are looked up on disk when first seen).

Verification trusts nothing in the header but the kid: the algorithm is fixed
to EdDSA, so `alg: none` and HS256-signed-with-the-public-key tokens fail.
"""

from __future__ import annotations

import itertools
import re
import secrets
import stat
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gristops.errors import AuthError, ExpiredToken, Unavailable
from gristops.files import write_atomic

ISSUER = "gristops"
AUDIENCE = "gristops-gateway"
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud"]
MAX_TOKEN_CHARS = 4096
VERIFIED_CACHE_SIZE = 4096
CLOCK_SKEW = 60  # seconds another gateway's clock may run ahead  # distinct live tokens remembered as verified
# A kid is its creation time in milliseconds plus a random suffix: sorting kids sorts keys by age.
_KID = re.compile(r"^k(\d{13})-([0-9a-f]{8})$")
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
    """Issue and verify access tokens with the keys in `keys_dir` (created on first use)."""

    def __init__(
        self, keys_dir: Path, access_ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys_dir = keys_dir
        self.access_ttl = access_ttl
        self._clock = clock
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._dir_mtime = -1
        # Signature checks are the costliest step of a request; a token is checked once.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        try:
            keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if stat.S_IMODE(keys_dir.stat().st_mode) & 0o077:
                keys_dir.chmod(0o700)
            self._scan()
            if not self._keys:
                self.rotate()
        except OSError as exc:
            raise Unavailable(
                f"cannot use the token keys directory {keys_dir}: {exc}",
                hint="check that data_dir is writable by the gristops user",
            ) from exc

    @property
    def active_kid(self) -> str:
        """The kid new tokens are signed with: the newest key on disk."""
        self._scan()
        if not self._keys:  # someone emptied the directory: start over with a new key
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
        self._scan()
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
        write_atomic(self.keys_dir / f"{kid}.pem", pem, 0o600)
        self._keys[kid] = key
        self.prune()
        return kid

    def prune(self) -> list[str]:
        """Delete keys retired longer ago than a token lives; returns their kids."""
        self._scan()
        kids = sorted(self._keys)
        now_ms = self._clock() * 1000
        removed = []
        for kid, successor in itertools.pairwise(kids):
            # A key is retired when its successor starts signing; its last token ends access_ttl later.
            if _kid_millis(successor) + (self.access_ttl + 60) * 1000 < now_ms:
                (self.keys_dir / f"{kid}.pem").unlink(missing_ok=True)
                del self._keys[kid]
                removed.append(kid)
        return removed

    def _key(self, kid: str) -> Ed25519PrivateKey | None:
        if kid not in self._keys and _KID.match(kid):
            self._load(kid)
        return self._keys.get(kid)

    def _scan(self) -> None:
        """Load keys added by other processes and forget deleted ones (when the dir changed)."""
        mtime = self.keys_dir.stat().st_mtime_ns
        if mtime == self._dir_mtime:
            return
        self._dir_mtime = mtime
        on_disk = {p.stem for p in self.keys_dir.glob("*.pem") if _KID.match(p.stem)}
        for kid in set(self._keys) - on_disk:
            del self._keys[kid]
        for kid in on_disk - set(self._keys):
            self._load(kid)

    def _load(self, kid: str) -> None:
        path = self.keys_dir / f"{kid}.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            return
        except ValueError as exc:
            raise Unavailable(
                f"token key {path} is unreadable: {exc}",
                hint="delete the file; tokens it signed stop working and users log in again",
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise Unavailable(
                f"token key {path} is not an Ed25519 key",
                hint="delete the file; gristops makes its own keys",
            )
        self._keys[kid] = key
