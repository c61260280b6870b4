"""What a load test measured: totals overall and per scenario, a timeline, errors, and checks.

The runner writes it as JSON; `--json`, `--out`, the HTML report and
`--baseline` all read this one shape (a saved baseline is validated like a plan).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gristops.errors import ConfigError

FORMAT = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stats(_Model):
    """Latencies in milliseconds; rps is requests over the load's whole duration."""

    requests: int = 0
    failures: int = 0
    error_rate: float = 0.0
    rps: float = 0.0
    avg_ms: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    def metric(self, name: str) -> float:
        """A thresholded metric by its plan name (min_rps is judged on rps)."""
        return float(getattr(self, "rps" if name == "min_rps" else name))


class Window(_Model):
    """One second of the run (or of one scenario in it)."""

    requests: int = 0
    failures: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None


class Point(_Model):
    t: float = Field(..., description="Seconds since the load started.")
    users: int
    overall: Window
    scenarios: dict[str, Window] = Field(default_factory=dict)


class Progress(_Model):
    """The runner's latest figures, for the live progress line."""

    t: float
    seconds: float = Field(..., description="The plan's length.")
    users: int
    requests: int
    failures: int
    rps: float = Field(..., description="Requests in the last full second.")
    p95_ms: float | None = Field(None, description="p95 of the last full second.")

    def line(self) -> str:
        p95 = "-" if self.p95_ms is None else f"{self.p95_ms:.0f}"
        return (
            f"{self.users} users · {self.rps:.0f} req/s · p95 {p95} ms · "
            f"{self.requests} requests, {self.failures} failed"
        )


class ErrorCount(_Model):
    scenario: str
    error: str
    count: int


class Check(_Model):
    """One pass condition and how the run did against it."""

    kind: str = Field(..., description="threshold, or baseline (p95 against a saved result)")
    scope: str = Field(..., description="overall, or a scenario name")
    metric: str
    limit: float = Field(..., description="The bound; for a baseline, the p95 allowed in ms.")
    value: float
    passed: bool
    baseline: float | None = Field(None, description="The baseline's p95 in ms.")

    def describe(self) -> str:
        if self.baseline is not None:
            change = (self.value / self.baseline - 1) * 100 if self.baseline else 0.0
            return (
                f"{self.scope} p95 {self.value:.1f} ms vs baseline {self.baseline:.1f} ms "
                f"({change:+.0f} %, limit {self.limit:.1f} ms)"
            )
        if self.metric == "requests":
            return f"{self.scope} sent no requests: its thresholds cannot be judged"
        relation = "at least" if self.metric == "min_rps" else "at most"
        return (
            f"{self.scope} {self.metric} {_number(self.value)} ({relation} {_number(self.limit)})"
        )


def _number(value: float) -> str:
    """4 significant digits, without an exponent for large values (10000 ms, not 1e+04)."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


class Result(_Model):
    format: int = FORMAT
    target: str
    plan: str
    started_at: str
    seconds: float
    peak_users: int
    overall: Stats
    scenarios: dict[str, Stats]
    timeline: list[Point]
    errors: list[ErrorCount] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    passed: bool | None = Field(None, description="Every check passed; None until judged.")

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]


def load_result(path: Path, what: str = "result") -> Result:
    """A saved result file (ConfigError in one line when it is not one)."""
    try:
        return Result.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the {what}: {exc.strerror}", "check the path"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            f"{path}: not a gristops loadtest result: {where}: {first['msg']}",
            "save one with `gristops loadtest --out FILE`",
        ) from None
