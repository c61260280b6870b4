"""bcrypt password hashes: checking the ones in the users table, writing new ones.

Hashes written elsewhere are accepted in all three bcrypt spellings: `$2b$`
(Python, OpenBSD), `$2a$` (Dart, most JS libraries) and `$2y$` (PHP). They
differ only in how old, buggy implementations handled long non-ASCII input;
for hashes made by correct implementations the computation is the same.
"""

from __future__ import annotations

import re
import secrets

import bcrypt

from gristops.errors import BadRequest

MIN_LENGTH = 10
MAX_BYTES = 72  # bcrypt reads no further
_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(email: str, what: str = "email") -> str:
    """The login email, trimmed; BadRequest naming `what` when it is not an address."""
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadRequest(f"{what} {email!r} is not an email address", "e.g. alice@example.com")
    return email


def is_bcrypt_hash(value: object) -> bool:
    return isinstance(value, str) and _HASH.match(value) is not None


def hash_cost(value: str) -> int:
    """The cost of a well-formed hash (see is_bcrypt_hash)."""
    match = _HASH.match(value)
    assert match is not None
    return int(match.group(1))


def check_password(password: str, stored_hash: str) -> bool:
    """True when `password` matches `stored_hash`. Slow by design: run it in a thread."""
    if not is_bcrypt_hash(stored_hash):
        return False
    # Other implementations silently use only the first 72 bytes; the bcrypt package
    # refuses longer input, so cut it the same way to accept what they accept.
    secret = password.encode("utf-8")[:MAX_BYTES]
    return bcrypt.checkpw(secret, ("$2b$" + stored_hash[4:]).encode("ascii"))


def make_hash(password: str, rounds: int) -> str:
    """A `$2b$` hash of an acceptable password (see check_strength) at cost `rounds`."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds, b"2b")).decode("ascii")


def check_strength(password: str) -> None:
    """Refuse passwords gristops will not store: too short, too long for bcrypt, or with NUL."""
    if len(password) < MIN_LENGTH:
        raise BadRequest(
            f"password too short: {len(password)} characters, at least {MIN_LENGTH} needed",
            hint="use a longer passphrase, or let gristops generate one",
        )
    if len(password.encode("utf-8")) > MAX_BYTES:
        raise BadRequest(
            f"password too long: bcrypt uses at most {MAX_BYTES} bytes of UTF-8",
            hint="use a shorter passphrase (accented letters count as two bytes)",
        )
    if "\0" in password:
        raise BadRequest(
            "password contains a NUL character", hint="type the password without control codes"
        )


def generate_password() -> str:
    """A random password to show once: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)
