"""Sealing blobs: zstd compression, then age encryption (or none, when asked for).

A sealed blob describes itself: it starts with age's header
(`age-encryption.org/v1`) when encrypted, else with zstd's frame magic.

Keys: X25519 recipients (public keys) encrypt; the identity file (private
key) decrypts. A passphrase is stretched once per run with scrypt into an
X25519 identity, because age's own passphrase mode runs scrypt for every
blob (about a second each), which a chunked archive cannot afford.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import zstandard

from gristops.config.backup import BackupSection, Encryption
from gristops.errors import ConfigError, CorruptBlob

AGE_MAGIC = b"age-encryption.org/v1\n"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Fixed so the same passphrase gives the same identity on any host (restore by hand).
PASSPHRASE_SALT = b"gristops-backup-age-identity-v1"
_SCRYPT = {"n": 1 << 17, "r": 8, "p": 1, "maxmem": 256 << 20, "dklen": 32}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _bech32(hrp: str, data: bytes) -> str:
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[w] for w in words + checksum)


def identity_from_passphrase(passphrase: str) -> pyrage.x25519.Identity:
    """The X25519 identity a passphrase stands for (scrypt N=2^17, r=8, p=1, fixed salt)."""
    secret = hashlib.scrypt(passphrase.encode(), salt=PASSPHRASE_SALT, **_SCRYPT)
    return pyrage.x25519.Identity.from_str(_bech32("age-secret-key-", secret).upper())


def generate_identity(path: Path) -> str:
    """Write a new age identity to `path` (0600, refusing to overwrite); its recipient."""
    identity = pyrage.x25519.Identity.generate()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists", "keep it, or move it away first") from None
    recipient = str(identity.to_public())
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"# public key: {recipient}\n{identity}\n")
    return recipient


def _read_secret_file(path: Path, what: str) -> str:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {what} {path}: {exc.strerror}", "check the path"
        ) from None
    if mode & 0o077:
        raise ConfigError(f"the {what} {path} is readable by others", f"chmod 600 {path}")
    return text


def _identities(path: Path) -> list[pyrage.x25519.Identity]:
    lines = _read_secret_file(path, "age identity file").splitlines()
    keys = [ln.strip() for ln in lines if ln.strip().startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise ConfigError(f"{path} holds no AGE-SECRET-KEY line", "use `gristops backup keygen`")
    try:
        return [pyrage.x25519.Identity.from_str(k) for k in keys]
    except pyrage.IdentityError:
        raise ConfigError(f"{path} holds a malformed age key", "regenerate or fix it") from None


@dataclass(frozen=True)
class Keys:
    """What this host can encrypt to and decrypt with."""

    recipients: tuple[pyrage.x25519.Recipient, ...]
    identities: tuple[pyrage.x25519.Identity, ...]
    secret_files: tuple[Path, ...]

    @classmethod
    def from_config(cls, section: BackupSection) -> Keys:
        enc = section.encryption
        recipients = [pyrage.x25519.Recipient.from_str(r) for r in enc.recipients]
        identities: list[pyrage.x25519.Identity] = []
        files: list[Path] = []
        if enc.identity_file is not None:
            files.append(enc.identity_file)
            if enc.identity_file.exists():
                identities = _identities(enc.identity_file)
            if not recipients:
                recipients = [i.to_public() for i in identities]
        passphrase = enc.passphrase.get_secret_value() if enc.passphrase else None
        if enc.passphrase_file is not None:
            files.append(enc.passphrase_file)
            passphrase = _read_secret_file(enc.passphrase_file, "passphrase file").strip()
        if passphrase:
            identity = identity_from_passphrase(passphrase)
            identities, recipients = [identity], [identity.to_public()]
        return cls(tuple(recipients), tuple(identities), tuple(files))


class Sealer:
    """Compresses and (unless encryption is none) encrypts blobs; opens them again."""

    def __init__(self, keys: Keys, encrypt: bool, level: int = 3) -> None:
        if encrypt and not keys.recipients:
            raise ConfigError(
                "backup encryption is on but no age recipient or passphrase is configured",
                "set backup.encryption.recipients (see `gristops backup keygen`) or a passphrase",
            )
        self.keys = keys
        self.encrypt = encrypt
        self._level = level

    @classmethod
    def for_target(cls, section: BackupSection, keys: Keys, kind: str, mode: Encryption) -> Sealer:
        if mode == "auto":
            encrypt = kind != "local" or section.encryption.configured
        else:
            encrypt = mode == "age"
        return cls(keys, encrypt, section.compression_level)

    def seal(self, data: bytes) -> bytes:
        packed = zstandard.ZstdCompressor(level=self._level).compress(data)
        return pyrage.encrypt(packed, list(self.keys.recipients)) if self.encrypt else packed

    def open(self, blob: bytes, what: str) -> bytes:
        """The plaintext of `blob`; CorruptBlob naming `what` when it cannot be read."""
        if blob.startswith(AGE_MAGIC):
            if not self.keys.identities:
                raise CorruptBlob(
                    f"{what} is encrypted and no age identity or passphrase is configured",
                    "set backup.encryption.identity_file or the passphrase",
                )
            try:
                blob = pyrage.decrypt(blob, list(self.keys.identities))
            except pyrage.DecryptError as exc:
                raise CorruptBlob(
                    f"{what} cannot be decrypted ({exc}): wrong key, or the blob is damaged",
                    "check backup.encryption; else verify the snapshot and use another one",
                ) from None
        if not blob.startswith(ZSTD_MAGIC):
            raise CorruptBlob(
                f"{what} is not a gristops archive blob", "the file was replaced or damaged"
            )
        try:
            return zstandard.ZstdDecompressor().decompress(blob)
        except zstandard.ZstdError as exc:
            raise CorruptBlob(f"{what} is damaged ({exc})", "use another snapshot") from None
