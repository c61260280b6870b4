"""Dependency checks: pip-audit over the environment gristops runs in.

pip-audit reports "No known vulnerabilities found" even when it could audit
nothing (every package skipped because the advisory source is unreachable).
Here an unreachable source, or skipped packages, are findings of their own:
"not audited", with pip-audit's reason, never a clean result.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gristops.scan.findings import Finding, Location, Rule, Severity

if TYPE_CHECKING:
    from pip_audit._service import Dependency, VulnerabilityResult, VulnerabilityService

OWN = {"gristops"}  # this project: audited by bandit and the tests, not by advisories
EXAMPLES = 5

VULNERABLE = Rule(
    "dependencies.vulnerable",
    Severity.HIGH,
    "An installed package has a known vulnerability",
    "upgrade the package to a fixed version (pip install -U NAME) and redeploy",
)
NOT_AUDITED = Rule(
    "dependencies.not-audited",
    Severity.MEDIUM,
    "Dependencies not audited: no advisory source could be read",
    "give the scan network access to PyPI, or pass --advisories with OSV's PyPI export (all.zip)",
)
PARTLY_AUDITED = Rule(
    "dependencies.partly-audited",
    Severity.LOW,
    "Some installed packages were not audited",
    "check the reasons; packages not on PyPI need an advisory source of their own",
)
RULES = (VULNERABLE, NOT_AUDITED, PARTLY_AUDITED)


def _service(advisories: Path | None, timeout: int) -> tuple[VulnerabilityService, str]:
    from pip_audit._service import PyPIService

    from gristops.scan.advisories import OfflineOsvService

    if advisories is not None:
        service = OfflineOsvService(advisories)
        return service, f"offline OSV database {advisories} ({service.count} advisories)"
    return PyPIService(timeout=timeout), "PyPI's advisory API"


ENVIRONMENT = Location(key="the Python environment gristops runs in")


def _not_audited(reason: str) -> Finding:
    return Finding(NOT_AUDITED, ENVIRONMENT, f"not audited: {reason}")


def _where(name: str) -> Location:
    return Location(key=f"package {name}")


def judge(
    results: Iterable[tuple[Dependency, list[VulnerabilityResult]]], source: str
) -> tuple[list[Finding], str]:
    """Findings from pip-audit's results: vulnerabilities, and what could not be audited."""
    found: list[Finding] = []
    audited, skipped = 0, []
    for dep, vulns in results:
        if dep.canonical_name in OWN:
            continue
        if dep.is_skipped():
            skipped.append(f"{dep.name}: {getattr(dep, 'skip_reason', '')}")
            continue
        audited += 1
        for vuln in vulns:
            fixed = ", ".join(str(v) for v in vuln.fix_versions) or "none yet"
            evidence = (
                f"{dep.name} {getattr(dep, 'version', '?')}: {vuln.id} "
                f"({vuln.description[:200]}); fixed in {fixed}"
            )
            found.append(Finding(VULNERABLE, _where(dep.name), evidence))
    if audited == 0:
        reason = (
            f"every one of {len(skipped)} packages was skipped, e.g. {skipped[0]}"
            if skipped
            else "no installed packages were found"
        )
        return [_not_audited(f"{source}: {reason}")], "not audited"
    if skipped:
        examples = "; ".join(skipped[:EXAMPLES])
        more = f"; and {len(skipped) - EXAMPLES} more" if len(skipped) > EXAMPLES else ""
        found.append(
            Finding(PARTLY_AUDITED, ENVIRONMENT, f"{len(skipped)} not audited: {examples}{more}")
        )
    return found, f"{audited} packages audited against {source}"


def check_dependencies(advisories: Path | None, timeout: int = 15) -> tuple[list[Finding], str]:
    """Audit the running environment; the detail names the advisory source used."""
    # pip-audit comes with the `scan` extra; its library API is private, hence the pinned range.
    import requests
    from pip_audit._audit import Auditor
    from pip_audit._dependency_source import PipSource, PipSourceError
    from pip_audit._service import ServiceError

    service, source = _service(advisories, timeout)
    try:
        results = list(Auditor(service).audit(PipSource()))
    except (ServiceError, PipSourceError, requests.RequestException) as exc:
        return [_not_audited(f"{source} could not be read: {exc or type(exc).__name__}")], (
            "not audited"
        )
    return judge(results, source)
