"""A load-test plan: the YAML file that says who logs in, what traffic, in which stages, judged how.

Validated once into a frozen pydantic model; a bad file is one line naming the
file and the field. `users_at` is the k6-style stage shape as a pure function
of the elapsed time, so it is tested without Locust.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gristops.durations import EXAMPLES, parse_duration
from gristops.errors import ConfigError

DEFAULT_PASSWORD_ENV = "GRISTOPS_LOADTEST_PASSWORD"  # noqa: S105 - a variable name
# The name of the variable that hands the runner process the password (not a password).
RUNNER_PASSWORD_ENV = "GRISTOPS_LOADTEST_RUNNER_PASSWORD"  # noqa: S105
_HINT = "fix that key; `gristops loadtest --print-default` prints a valid plan to start from"


def _seconds(value: Any) -> Any:
    """Seconds from a duration string (durations.py); anything else is left to pydantic."""
    if isinstance(value, str):
        seconds = parse_duration(value)
        if seconds is None:
            raise ValueError(f"not a duration: write {EXAMPLES}")
        return seconds
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
TableId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
RowIds = Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Model):
    """Move linearly from the previous stage's users (0 at first) to `users` over `duration`."""

    duration: Seconds = Field(..., gt=0, le=86_400)
    users: int = Field(..., ge=0, le=10_000)


class Login(_Model):
    """The account every virtual user logs in with; its password never sits in the file."""

    email: str = Field(..., min_length=3, max_length=320)
    password_env: str = Field(DEFAULT_PASSWORD_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    password_file: Path | None = None

    def password(self) -> str:
        """The password from `password_file`, else from the environment variable."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"login.password_file: cannot read {self.password_file}: {exc.strerror}",
                    "point it at a readable file holding the password",
                ) from None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"login: environment variable {self.password_env} is not set",
                f"export {self.password_env}=... (the password of {self.email}), "
                "or set login.password_file",
            )
        return value


class _Scenario(_Model):
    weight: int = Field(1, ge=1, le=1000, description="Relative share of the traffic.")


class LoginScenario(_Scenario):
    """POST /auth/login: a bcrypt check on the server, as an app start does."""

    kind: Literal["login"]


class RefreshScenario(_Scenario):
    """POST /auth/refresh with the user's refresh token (single use: the new pair is kept)."""

    kind: Literal["refresh"]


class ListScenario(_Scenario):
    """GET .../records with query parameters (sort, limit, filter as a mapping: JSON-encoded)."""

    kind: Literal["list"]
    table: TableId
    query: dict[str, str | int | float | bool | dict[str, Any] | list[Any]] = Field(
        default_factory=dict
    )


class RecordScenario(_Scenario):
    """GET .../records/{id}, one of `ids` at random."""

    kind: Literal["record"]
    table: TableId
    ids: RowIds


class CreateScenario(_Scenario):
    """POST .../records adding one record with `fields`."""

    kind: Literal["create"]
    table: TableId
    fields: dict[str, Any] = Field(..., min_length=1)


class UpdateScenario(_Scenario):
    """PATCH .../records setting `fields` on one of `ids` at random."""

    kind: Literal["update"]
    table: TableId
    ids: RowIds
    fields: dict[str, Any] = Field(..., min_length=1)


Scenario = Annotated[
    LoginScenario
    | RefreshScenario
    | ListScenario
    | RecordScenario
    | CreateScenario
    | UpdateScenario,
    Field(discriminator="kind"),
]
KINDS = ("login", "refresh", "list", "record", "create", "update")
WRITES = ("create", "update")


class Limits(_Model):
    """Pass conditions: latencies and error rate at most these, throughput at least `min_rps`."""

    p50_ms: float | None = Field(None, gt=0)
    p95_ms: float | None = Field(None, gt=0)
    p99_ms: float | None = Field(None, gt=0)
    error_rate: float | None = Field(None, ge=0, le=1, description="0.01 is 1 %.")
    min_rps: float | None = Field(None, ge=0, description="Requests per second over the run.")

    def items(self) -> list[tuple[str, float]]:
        """The limits that are set, as (metric, limit)."""
        return [(name, value) for name, value in self.model_dump().items() if value is not None]


class Thresholds(_Model):
    overall: Limits = Limits()
    scenarios: dict[Name, Limits] = Field(default_factory=dict)


class Plan(_Model):
    document: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,100}$")
    login: Login
    think_time: tuple[float, float] = Field(
        (0.5, 1.5), description="Seconds a user waits between requests: [min, max]."
    )
    request_timeout: Seconds = Field(10.0, gt=0, le=300)
    stages: tuple[Stage, ...] = Field(..., min_length=1)
    scenarios: dict[Name, Scenario] = Field(..., min_length=1)
    thresholds: Thresholds = Thresholds()

    @field_validator("think_time")
    @classmethod
    def _think_time(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] <= value[1] <= 60:
            raise ValueError("must be [min, max] seconds with 0 <= min <= max <= 60")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if not any(stage.users for stage in self.stages):
            raise ValueError("stages: at least one stage needs users above 0")
        unknown = sorted(set(self.thresholds.scenarios) - set(self.scenarios))
        if unknown:
            raise ValueError(
                f"thresholds.scenarios: {', '.join(unknown)} is not a scenario "
                f"(scenarios: {', '.join(self.scenarios)})"
            )
        return self

    @property
    def seconds(self) -> float:
        return sum(stage.duration for stage in self.stages)

    def writes(self) -> list[str]:
        """Names of the scenarios that change the document."""
        return [name for name, s in self.scenarios.items() if s.kind in WRITES]


def users_at(stages: tuple[Stage, ...], elapsed: float) -> int | None:
    """Users wanted `elapsed` seconds into the run (linear within a stage); None once it is over."""
    start, previous = 0.0, 0
    for stage in stages:
        if elapsed < start + stage.duration:
            share = (elapsed - start) / stage.duration
            return round(previous + (stage.users - previous) * share)
        start, previous = start + stage.duration, stage.users
    return None


def _where(error: Any) -> str:
    # A discriminated union puts the scenario's kind after its name: show the key path only.
    parts = [str(part) for part in error["loc"]]
    if parts[:1] == ["scenarios"] and len(parts) > 3 and parts[2] in KINDS:
        del parts[2]
    return ".".join(parts) or "(top level)"


def parse_plan(text: str, source: str, base_dir: Path | None = None) -> Plan:
    """Validate YAML text; ConfigError (one line: source, key, problem) when it is not a plan."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{source}:{where}: not valid YAML", "fix the indentation or quoting"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: not a load-test plan (a mapping of keys)", _HINT)
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        # An unknown key first: a misspelt key is also reported as a missing one.
        errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        first = errors[0]
        message = (
            "unknown key"
            if first["type"] == "extra_forbidden"
            else first["msg"].removeprefix("Value error, ")
        )
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_where(first)}: {message}{more}", _HINT) from None
    secret_file = plan.login.password_file
    if base_dir is not None and secret_file is not None and not secret_file.is_absolute():
        login = plan.login.model_copy(update={"password_file": base_dir / secret_file})
        plan = plan.model_copy(update={"login": login})
    return plan


def default_plan_text() -> str:
    """The shipped plan: app-like traffic against the sample document of `gristops init`."""
    return resources.files("gristops.loadtest").joinpath("default.yaml").read_text("utf-8")


def load_plan(path: Path | None) -> Plan:
    """Read a plan file (None: the shipped default)."""
    if path is None:
        return parse_plan(default_plan_text(), "default.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the load-test plan: {getattr(exc, 'strerror', None) or exc}",
            "check the path",
        ) from None
    return parse_plan(text, str(path), path.resolve().parent)
