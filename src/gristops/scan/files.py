"""File checks: secrets, the state DB, documents and backups readable only by the service user.

Directories are checked too (a 0755 directory lists what it holds); a tree of
backup chunks is walked and reported as one finding per root with examples.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gristops.backup.configured_archives import target_configs
from gristops.config import Config
from gristops.edge.layout import CertPaths, EdgePaths
from gristops.scan.findings import Finding, Location, Rule, Severity

EXAMPLES = 3

OPEN_MODE = Rule(
    "files.open-mode",
    Severity.HIGH,
    "A secret or data file is readable or writable by group or other",
    "chmod go= the file (0600 for files, 0700 for directories)",
)
WRONG_OWNER = Rule(
    "files.wrong-owner",
    Severity.MEDIUM,
    "A secret or data file is not owned by the service user",
    "chown it to the user gristops runs as (see --service-user)",
)
RULES = (OPEN_MODE, WRONG_OWNER)


@dataclass(frozen=True)
class Guarded:
    """A file or tree that must stay private: what it holds and where."""

    what: str
    path: Path
    tree: bool = False


def guarded_paths(config: Config) -> list[Guarded]:
    """Everything that holds secrets or data, configured or at its default place."""
    enc = config.backup.encryption
    edge = EdgePaths.of(config)
    items = [
        Guarded("the JWT signing keys", config.keys_dir, tree=True),
        Guarded("the state DB", config.state_path),
        Guarded("the state DB's WAL", config.state_path.with_name("state.db-wal")),
        Guarded("the state DB's shared memory", config.state_path.with_name("state.db-shm")),
        Guarded("the documents", config.docs_dir, tree=True),
        Guarded("the self-signed TLS key", edge.selfsigned_key),
        Guarded(
            "the ACME account key",
            config.edge.acme_account_key or edge.tls / "acme-account.key",
        ),
    ]
    items += [
        Guarded(f"the TLS key of {names[0]}", CertPaths.of(config, names[0]).privkey)
        for names in config.edge.tls_domains
    ]
    if config.edge.tls_certificate_key is not None:
        items.append(Guarded("edge.tls_certificate_key", config.edge.tls_certificate_key))
    if enc.identity_file is not None:
        items.append(
            Guarded("the age identity (backup.encryption.identity_file)", enc.identity_file)
        )
    if enc.passphrase_file is not None:
        items.append(Guarded("backup.encryption.passphrase_file", enc.passphrase_file))
    if config.grist.api_key_file is not None:
        items.append(Guarded("grist.api_key_file", config.grist.api_key_file))
    for name, target in target_configs(config).items():
        if target.kind == "local":
            root = target.path if target.path.is_absolute() else config.data_dir / target.path
            items.append(Guarded(f"the backups of target {name}", root, tree=True))
        elif target.kind == "rclone" and target.config_file is not None:
            items.append(Guarded(f"backup.targets.{name}.config_file", target.config_file))
    return items


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for parent, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                yield Path(parent) / name


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_files(config: Config, service_uid: int) -> list[Finding]:
    """Mode and owner findings for every guarded path that exists (one per path or tree)."""
    found: list[Finding] = []
    for item in guarded_paths(config):
        if not item.path.exists():
            continue
        paths = list(_walk(item.path)) if item.tree else [item.path]
        infos = [(p, p.lstat()) for p in paths]
        wide = [(p, s) for p, s in infos if stat.S_IMODE(s.st_mode) & 0o077]
        alien = [(p, s) for p, s in infos if s.st_uid != service_uid]
        where = Location(path=item.path)
        if wide:
            examples = ", ".join(f"{p} {stat.filemode(s.st_mode)}" for p, s in wide[:EXAMPLES])
            more = f" and {len(wide) - EXAMPLES} more" if len(wide) > EXAMPLES else ""
            found.append(Finding(OPEN_MODE, where, f"{item.what}: {examples}{more}"))
        if alien:
            examples = ", ".join(f"{p} owned by {_user(s.st_uid)}" for p, s in alien[:EXAMPLES])
            more = f" and {len(alien) - EXAMPLES} more" if len(alien) > EXAMPLES else ""
            found.append(
                Finding(
                    WRONG_OWNER,
                    where,
                    f"{item.what}: {examples}{more} (service user {_user(service_uid)})",
                )
            )
    return found
