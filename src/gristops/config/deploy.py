"""The `deploy:` section of gristops.yaml: blue-green slots, health gates, the watch window."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gristops.config.section import Section


class SmokeCheck(Section):
    """One GET request a new release must answer before it gets traffic."""

    path: str = Field(..., description="Path to request, e.g. /health or /api/docs/Shop/tables.")
    status: int = Field(200, ge=100, le=599, description="The status it must answer.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a path starting with / and without spaces")
        return value


class DeploySection(Section):
    """Blue-green deploys of the gateway (gristops deploy, dora)."""

    port: int = Field(
        8600,
        ge=1,
        le=65535,
        description="Port nginx sends traffic to (127.0.0.1): one socket the slots share; "
        "the live slot accepts on it.",
    )
    blue_port: int = Field(
        8601, ge=1, le=65535, description="The blue slot's own port (health gates, metrics)."
    )
    green_port: int = Field(
        8602, ge=1, le=65535, description="The green slot's own port (health gates, metrics)."
    )
    ready_timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds a new slot gets to answer /ready with 200."
    )
    smoke: tuple[SmokeCheck, ...] = Field(
        (SmokeCheck(path="/health"),),
        description="Requests a new slot must answer (directly, then through nginx).",
    )
    loadtest: Path | None = Field(
        None,
        description="A `gristops loadtest` plan run against the new slot after the smoke "
        "requests, before the switch: a failed threshold stops the deploy. Reads only (the "
        "slot serves the live document): a plan with create or update scenarios is refused.",
    )
    watch_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="After the switch, seconds of live traffic watched before the deploy counts "
        "as good; a breach switches back.",
    )
    max_error_rate: float = Field(
        0.05, ge=0, le=1, description="Largest share of 5xx answers tolerated in the watch window."
    )
    max_p95_seconds: float = Field(
        1.0, gt=0, description="Largest 95th-percentile latency tolerated in the watch window."
    )
    watch_min_requests: int = Field(
        5, ge=1, description="Requests needed in the window before rate and p95 are judged."
    )
    keep_previous_warm: bool = Field(
        True,
        description="Keep the previous slot running (no traffic) so a rollback is a switch; "
        "False drains and stops it after the watch window.",
    )
    system_site_packages: bool = Field(
        False,
        description="Slot venvs see the system's packages (dependencies already installed "
        "are not downloaded again).",
    )
    python: Path | None = Field(
        None, description="Interpreter for slot venvs (default: the one running gristops)."
    )
    install_timeout: float = Field(
        600.0, gt=0, description="Seconds to install a release into a slot."
    )

    @model_validator(mode="after")
    def _distinct_ports(self) -> DeploySection:
        if len({self.port, self.blue_port, self.green_port}) < 3:
            raise ValueError("deploy.port, deploy.blue_port and deploy.green_port must all differ")
        return self
