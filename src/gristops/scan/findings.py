"""What a scan reports: rules, findings (where, evidence, fix), and the checks that ran or could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Rule:
    """One kind of problem: its stable id, how bad it is, and the one-line fix."""

    id: str
    severity: Severity
    title: str
    fix: str


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file (and a key in it), or a URL."""

    path: Path | None = None
    key: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        if self.url is not None:
            return self.url
        where = str(self.path) if self.path is not None else "gristops.yaml"
        return f"{where}: {self.key}" if self.key else where


@dataclass(frozen=True)
class Finding:
    rule: Rule
    location: Location
    evidence: str

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.rule.id,
            "severity": self.severity.label,
            "title": self.rule.title,
            "location": str(self.location),
            "evidence": self.evidence,
            "fix": self.rule.fix,
        }


@dataclass(frozen=True)
class Check:
    """One check family's run: `ran` False says it was skipped, and `detail` why."""

    name: str
    ran: bool
    detail: str = ""


@dataclass
class Report:
    started_at: float
    finished_at: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Findings per severity label, every severity present (0 when none)."""
        return {s.label: sum(f.severity == s for f in self.findings) for s in Severity}

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= threshold]

    def sorted_findings(self) -> list[Finding]:
        """Worst first, then by rule id and location (stable output)."""
        return sorted(self.findings, key=lambda f: (-f.severity, f.rule.id, str(f.location)))
