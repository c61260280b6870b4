"""The gristops.yaml schema: one frozen pydantic model, validated once at the edge.

The `grist:` and `auth:` sections accept an existing app's `app_config.yaml`
unchanged. Secrets (`grist.api_key`) come from `${ENV}` substitution or from a
`*_file` key; literals are accepted but flagged by `gristops config check`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from gristops.config.access import ALL_ACTIONS, Action, TableRule
from gristops.config.backup import BackupSection
from gristops.config.deploy import DeploySection
from gristops.config.edge import EdgeSection
from gristops.config.gitops import GitopsSection
from gristops.config.observe import ObserveSection
from gristops.config.section import Section

__all__ = ["ALL_ACTIONS", "Action", "Config", "TableRule"]

# Grist document ids are URL-safe tokens; the embedded store maps them to file names.
DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"


class UsersTableSchema(Section):
    """Which columns of the users table hold what."""

    email_field: str = Field("email", description="Column with the login email.")
    password_field: str = Field("password_hash", description="Column with the bcrypt hash.")
    role_field: str = Field("role", description="Column with the role name.")
    active_field: str = Field("active", description="Bool column; inactive users cannot log in.")


class GristSection(Section):
    """Where the data lives. Without `base_url` the embedded store serves `.grist` files."""

    base_url: str | None = Field(
        None, description="URL of a Grist server, e.g. https://grist.example.com. Unset: embedded."
    )
    api_key: SecretStr | None = Field(
        None, description="Grist API key; use ${GRIST_API_KEY} or api_key_file, not a literal."
    )
    api_key_file: Path | None = Field(None, description="File holding the Grist API key.")
    docs_dir: Path | None = Field(
        None,
        description="Hybrid mode: the Grist server's documents folder (its GRIST_DATA_DIR, "
        "holding <docId>.grist). Reads come from these files, writes go through base_url.",
    )
    document_id: str = Field(
        ..., pattern=DOC_ID_PATTERN, description="The document holding the users table."
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds per request to Grist.")
    retries: int = Field(3, ge=0, le=10, description="Retries of idempotent requests.")
    max_parallel_per_doc: int = Field(
        8,
        ge=1,
        le=100,
        description="In-flight requests per document (Grist refuses more than 10 with 429).",
    )
    breaker_failures: int = Field(5, ge=1, description="Failures in a row that open the breaker.")
    breaker_reset: float = Field(
        3.0, gt=0, description="Seconds before a half-open retry (how soon writes recover)."
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// and name a host")
        return value.rstrip("/") if value else value


class AuthSection(Section):
    """Login against the users table, tokens and throttling."""

    users_table: str = Field("Users", description="Table id of the users table.")
    users_table_schema: UsersTableSchema = Field(default_factory=UsersTableSchema)
    access_token_ttl: int = Field(900, ge=30, le=86400, description="Access token lifetime (s).")
    refresh_token_ttl: int = Field(
        30 * 86400, ge=300, le=365 * 86400, description="Refresh token lifetime (s)."
    )
    refresh_retry_window: float = Field(
        0,
        ge=0,
        le=60,
        description="Seconds after a refresh in which presenting the same refresh token "
        "again, before its successor was ever used, is taken as a retry of a lost answer "
        "(a gateway died mid-request) and answered with a new pair instead of revoking the "
        "login. 0: never. Set a few seconds when several gateways sit behind a balancer.",
    )
    max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins for one email before it is locked."
    )
    max_failures_per_client: int = Field(
        20, ge=1, description="Failed logins from one client address before it is locked."
    )
    failure_window: int = Field(900, ge=1, description="Seconds over which failures count.")
    lockout: int = Field(300, ge=1, description="Seconds a locked account or address waits.")
    bcrypt_rounds: int = Field(12, ge=10, le=16, description="Cost of hashes written by gristops.")


class ServerSection(Section):
    """How `gristops serve` listens."""

    host: str = Field("127.0.0.1", description="Address to bind; put nginx in front for TLS.")
    port: int = Field(8484, ge=1, le=65535)
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body (Grist's limit is 1 MB)."
    )
    cors_origins: tuple[str, ...] = Field((), description="Origins allowed by CORS.")
    graceful_timeout: int = Field(20, ge=0, description="Seconds in-flight requests get at stop.")
    workers: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Worker processes; unset: one per CPU, at most 8 (each holds its own memory).",
    )
    response_cache_bytes: int = Field(
        16 * 1024 * 1024,
        ge=0,
        description="Bytes of serialized read answers kept per worker (0: no cache; ETags stay).",
    )
    fast_reads: bool = Field(
        True,
        description="Answer GETs of tables, columns and records before FastAPI's routing "
        "(same answers, less work per request); false: every request goes through FastAPI.",
    )
    event_loop: Literal["asyncio", "uvloop"] = Field(
        "asyncio",
        description="The workers' event loop. asyncio keeps the slowest answers close to the "
        "typical ones under load; uvloop measured a 2-10x longer p99 at 100 clients.",
    )


class StateSection(Section):
    """Where the state DB lives: sessions, lockouts, signing keys, audit, ops history."""

    url: SecretStr | None = Field(
        None,
        description="Unset: SQLite in data_dir/state.db (one machine). "
        "postgresql://user@host:5432/db puts the state on PostgreSQL, shared by several "
        "gateways; use ${GRISTOPS_STATE_URL} (it may hold a password), never a literal.",
    )

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError(
                "state.url must start with postgresql:// (or be unset for SQLite in data_dir)"
            )
        return value


class LogSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json_lines: bool | None = Field(
        None,
        alias="json",
        description="true: JSON lines; false: console lines; unset: console on a terminal, "
        "else JSON. Log files are JSON always.",
    )
    access: bool = Field(
        True,
        description="One line per HTTP request (method, route, status, ...), in the "
        "gateway's log file (on stderr when log files are off or stderr is a console).",
    )


TablePermissions = dict[str, TableRule]


def _default_roles() -> dict[str, TablePermissions]:
    return {"admin": {"*": TableRule(actions=ALL_ACTIONS)}}


class Config(Section):
    """The whole gristops.yaml."""

    data_dir: Path = Field(Path("data"), description="Documents, state DB, keys, logs, backups.")
    grist: GristSection
    auth: AuthSection = Field(default_factory=AuthSection)
    roles: dict[str, TablePermissions] = Field(
        default_factory=_default_roles,
        description=(
            "Per role, per table id (or *): the allowed actions, or a mapping with "
            "actions, rows, hidden, readonly and fill (see docs/gateway.md)."
        ),
    )
    server: ServerSection = Field(default_factory=ServerSection)
    state: StateSection = Field(default_factory=StateSection)
    log: LogSection = Field(default_factory=LogSection)
    backup: BackupSection = Field(default_factory=BackupSection)
    edge: EdgeSection = Field(default_factory=EdgeSection)
    deploy: DeploySection = Field(default_factory=DeploySection)
    observe: ObserveSection = Field(default_factory=ObserveSection)
    gitops: GitopsSection = Field(default_factory=GitopsSection)
    source_path: Path | None = Field(None, exclude=True, description="Set by the loader.")

    @property
    def embedded(self) -> bool:
        """True when documents are `.grist` files served directly."""
        return self.grist.base_url is None

    @property
    def hybrid(self) -> bool:
        """True when reads come from a Grist server's files and writes go through its API."""
        return self.grist.base_url is not None and self.grist.docs_dir is not None

    @property
    def store_kind(self) -> str:
        """`embedded`, `grist` or `hybrid`: which store serves the documents."""
        return "embedded" if self.embedded else "hybrid" if self.hybrid else "grist"

    @property
    def docs_dir(self) -> Path:
        return self.data_dir / "docs"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def state_location(self) -> Path | str:
        """The state DB: the SQLite file, or the PostgreSQL URL of state.url."""
        url = self.state.url
        return url.get_secret_value() if url is not None else self.state_path

    @property
    def has_state(self) -> bool:
        """Whether a state DB exists yet (a PostgreSQL one always does)."""
        return self.state.url is not None or self.state_path.exists()

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @model_validator(mode="after")
    def _server_needs_key(self) -> Config:
        g = self.grist
        if g.base_url and g.api_key is None and g.api_key_file is None:
            raise ValueError(
                "grist.base_url is set, so grist.api_key or grist.api_key_file is needed"
            )
        if g.docs_dir is not None and g.base_url is None:
            raise ValueError(
                "grist.docs_dir is set without grist.base_url: hybrid mode reads that folder "
                "and writes through the Grist server, so set grist.base_url too"
            )
        if g.api_key is not None and g.api_key_file is not None:
            raise ValueError("set only one of grist.api_key and grist.api_key_file")
        if "admin" not in self.roles:
            raise ValueError("roles must define 'admin' (it manages users)")
        return self

    def grist_api_key(self) -> str:
        """The Grist API key, read from the file when configured that way."""
        if self.grist.api_key is not None:
            return self.grist.api_key.get_secret_value()
        if self.grist.api_key_file is not None:
            return self.grist.api_key_file.read_text(encoding="utf-8").strip()
        return ""
