"""Config checks: what gristops.yaml (and the backup catalog) says about the deployment's safety."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from gristops.backup.catalog import Catalog
from gristops.config import Config
from gristops.config.load import literal_secrets
from gristops.edge.layout import EdgePaths
from gristops.scan.findings import Finding, Location, Rule, Severity
from gristops.state.db import StateDB

# Lifetimes beyond these let a stolen token work for too long.
MAX_ACCESS_TTL = 3600
MAX_REFRESH_TTL = 90 * 86400
MIN_BCRYPT_COST = 12

LITERAL_SECRET = Rule(
    "config.literal-secret",
    Severity.HIGH,
    "A secret is written literally in the config file",
    "replace the value with ${ENV_NAME} or the matching *_file key",
)
BCRYPT_COST = Rule(
    "config.bcrypt-cost",
    Severity.MEDIUM,
    "bcrypt cost below 12",
    f"set auth.bcrypt_rounds to {MIN_BCRYPT_COST} or more",
)
TOKEN_LIFETIME = Rule(
    "config.token-lifetime",
    Severity.MEDIUM,
    "A token lifetime is beyond sane bounds",
    f"keep auth.access_token_ttl <= {MAX_ACCESS_TTL} s and auth.refresh_token_ttl <= 90 days",
)
CORS_WILDCARD = Rule(
    "config.cors-wildcard",
    Severity.HIGH,
    "CORS lets any origin send credentialed requests",
    "list the app's origins in server.cors_origins instead of *",
)
ROLE_PRIVATE_TABLE = Rule(
    "config.role-private-table",
    Severity.HIGH,
    "A non-admin role is granted the users table or a _grist_* table",
    "give the role an explicit empty entry for that table (e.g. Users: []) or remove the grant",
)
BACKUP_UNENCRYPTED = Rule(
    "config.backup-unencrypted",
    Severity.HIGH,
    "A remote backup target stores snapshots unencrypted",
    "remove `encryption: none` from the target and configure backup.encryption",
)
NO_BACKUP_TARGET = Rule(
    "config.no-backup-target",
    Severity.MEDIUM,
    "No backup target: snapshots stay on this machine's disk",
    "add an s3 or rclone target under backup.targets",
)
NO_RECENT_DRILL = Rule(
    "config.no-recent-drill",
    Severity.MEDIUM,
    "No successful restore drill recently: backups are unproven",
    "run `gristops backup drill` (the agent can schedule it)",
)
SERVER_EXPOSED = Rule(
    "config.server-exposed",
    Severity.HIGH,
    "The gateway listens beyond loopback and no edge is configured",
    "set server.host: 127.0.0.1 and put the nginx edge in front (`gristops edge start`)",
)
RULES = (
    LITERAL_SECRET,
    BCRYPT_COST,
    TOKEN_LIFETIME,
    CORS_WILDCARD,
    ROLE_PRIVATE_TABLE,
    BACKUP_UNENCRYPTED,
    NO_BACKUP_TARGET,
    NO_RECENT_DRILL,
    SERVER_EXPOSED,
)


def _raw(config: Config) -> dict[str, Any]:
    """The config file as written (before ${ENV} substitution), to tell literals apart."""
    if config.source_path is None or not config.source_path.exists():
        return {}
    raw = yaml.safe_load(config.source_path.read_text(encoding="utf-8"))
    return raw if isinstance(raw, dict) else {}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_config(config: Config, state: StateDB | None, now: float) -> list[Finding]:
    """Every config finding; the drill age comes from the backup catalog in `state`."""
    path = config.source_path
    found: list[Finding] = []

    def add(rule: Rule, key: str, evidence: str, where: Path | None = path) -> None:
        found.append(Finding(rule, Location(path=where, key=key), evidence))

    for key in literal_secrets(_raw(config), config):
        add(LITERAL_SECRET, key, "the value is not a ${ENV} reference (value not shown)")
    auth = config.auth
    if auth.bcrypt_rounds < MIN_BCRYPT_COST:
        add(BCRYPT_COST, "auth.bcrypt_rounds", f"bcrypt_rounds is {auth.bcrypt_rounds}")
    if auth.access_token_ttl > MAX_ACCESS_TTL:
        add(TOKEN_LIFETIME, "auth.access_token_ttl", f"{auth.access_token_ttl} s")
    if auth.refresh_token_ttl > MAX_REFRESH_TTL:
        days = auth.refresh_token_ttl / 86400
        add(TOKEN_LIFETIME, "auth.refresh_token_ttl", f"{days:g} days")
    if "*" in config.server.cors_origins:
        add(
            CORS_WILDCARD,
            "server.cors_origins",
            "origin * is allowed and the gateway accepts the Authorization header cross-origin",
        )
    for role, tables in config.roles.items():
        if role == "admin":
            continue
        rule = tables.get(auth.users_table, tables.get("*"))
        users = rule.actions if rule is not None else ()
        if users:
            via = auth.users_table if auth.users_table in tables else "*"
            add(
                ROLE_PRIVATE_TABLE,
                f"roles.{role}.{via}",
                f"role {role!r} may {', '.join(users)} the users table {auth.users_table}",
            )
        for table, table_rule in tables.items():
            if table.startswith("_grist") and table_rule.actions:
                add(
                    ROLE_PRIVATE_TABLE,
                    f"roles.{role}.{table}",
                    f"role {role!r} may {', '.join(table_rule.actions)} {table}",
                )
    targets = config.backup.targets
    for name, target in targets.items():
        if target.kind != "local" and target.encryption == "none":
            add(
                BACKUP_UNENCRYPTED,
                f"backup.targets.{name}.encryption",
                f"{target.kind} target {name!r} has encryption: none",
            )
    if not any(t.kind != "local" for t in targets.values()):
        add(NO_BACKUP_TARGET, "backup.targets", "no s3 or rclone target is configured")
    found.extend(_drill(config, state, now, path))
    if not is_loopback(config.server.host) and not EdgePaths.of(config).conf.exists():
        add(
            SERVER_EXPOSED,
            "server.host",
            f"server.host is {config.server.host} and {EdgePaths.of(config).conf} does not exist",
        )
    return found


def _drill(config: Config, state: StateDB | None, now: float, path: Path | None) -> list[Finding]:
    days = config.observe.thresholds.drill_max_age_days
    last = max(Catalog(state).last_success("drill").values(), default=None) if state else None
    if last is not None and now - last <= days * 86400:
        return []
    evidence = (
        "no restore drill has succeeded"
        if last is None
        else f"the last successful drill was {(now - last) / 86400:.1f} days ago"
    )
    return [
        Finding(
            NO_RECENT_DRILL,
            Location(path=path, key="observe.thresholds.drill_max_age_days"),
            f"{evidence} (limit {days:g} days)",
        )
    ]
