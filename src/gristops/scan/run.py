"""Run the scan: every check family in turn, each failure a finding of its own, one report.

Deployment checks need a URL; a family that cannot run (no URL, sslyze not
installed, the URL does not answer) is listed as skipped or failed, so a
report is never clean by omission.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog

from gristops.config import Config
from gristops.errors import GristopsError
from gristops.scan import config as config_checks
from gristops.scan import dependencies, deployment, files, tls
from gristops.scan.deployment import AccountFactory, Target
from gristops.scan.findings import Check, Finding, Location, Report, Rule, Severity
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.scan")
FAMILIES = ("config", "files", "deployment", "tls", "dependencies")

CHECK_FAILED = Rule(
    "scan.check-failed",
    Severity.MEDIUM,
    "A check could not run: its part of the deployment is unchecked",
    "fix what the evidence says and scan again",
)
NO_URL = "skipped: pass --url to check the running deployment"


def all_rules() -> list[Rule]:
    return [
        *config_checks.RULES,
        *files.RULES,
        *deployment.RULES,
        *tls.RULES,
        *dependencies.RULES,
        CHECK_FAILED,
    ]


@dataclass(frozen=True)
class ScanOptions:
    target: Target | None = None
    advisories: Path | None = None
    service_uid: int = 0
    account: AccountFactory | None = None
    skip: frozenset[str] = field(default_factory=frozenset)


def _is_bug(exc: Exception) -> bool:
    return not isinstance(exc, GristopsError | ImportError)


def _why(exc: Exception) -> str:
    if isinstance(exc, ImportError):  # sslyze and pip-audit come with the `scan` extra
        return f"{exc.name} is not installed: pip install 'gristops[scan]'"
    if isinstance(exc, GristopsError):
        return f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    return f"{type(exc).__name__}: {exc}"


class _Runner:
    def __init__(self, report: Report, progress: Callable[[str], None]) -> None:
        self.report = report
        self.progress = progress

    def family(self, name: str, work: Callable[[], tuple[list[Finding], str]]) -> None:
        self.progress(name)
        try:
            found, detail = work()
        except Exception as exc:  # one family failing leaves the others running
            message = _why(exc)
            # An expected failure is its message; anything else is a bug: its traceback is logged.
            log.warning("scan check failed", check=name, error=message, exc_info=_is_bug(exc))
            self.report.findings.append(Finding(CHECK_FAILED, Location(key=name), message))
            self.report.checks.append(Check(name, False, f"failed: {message}"))
            return
        self.report.findings.extend(found)
        ran = not detail.startswith(("skipped", "not audited"))
        self.report.checks.append(Check(name, ran, detail))

    def skipped(self, name: str, detail: str) -> None:
        self.report.checks.append(Check(name, False, detail))


def _deployment(
    config: Config, target: Target, account: AccountFactory | None
) -> tuple[list[Finding], str]:
    found = deployment.check_headers(target)
    exposed, exposure = deployment.check_exposure(target)
    unauthenticated, auth = deployment.check_authentication(target, config)
    found += exposed + unauthenticated
    if account is None:
        throttling = "login throttling skipped: no throwaway account can be made"
    else:
        found += deployment.check_throttling(target, config, account)
        throttling = "login throttling tried with a throwaway account"
    return found, f"private routes {exposure}; {auth}; {throttling}"


def _tls(config: Config, target: Target) -> tuple[list[Finding], str]:
    if not target.https:
        return [], "skipped: the URL is not https://"
    now = dt.datetime.now(dt.UTC)
    found = tls.check_tls(target.url, target.ca_file, config.edge.tls_renew_fraction, now)
    return found, "protocols, cipher suites, chain, expiry and HSTS scanned with sslyze"


def run_scan(
    config: Config,
    state: StateDB | None,
    options: ScanOptions,
    progress: Callable[[str], None] = lambda name: None,
) -> Report:
    """Every check family not in `options.skip`; the report lists what ran and what did not."""
    report = Report(started_at=time.time())
    runner = _Runner(report, progress)
    target = options.target
    work: dict[str, Callable[[], tuple[list[Finding], str]]] = {
        "config": lambda: (config_checks.check_config(config, state, time.time()), ""),
        "files": lambda: (files.check_files(config, options.service_uid), ""),
        "dependencies": lambda: dependencies.check_dependencies(options.advisories),
    }
    if target is not None:
        work["deployment"] = partial(_deployment, config, target, options.account)
        work["tls"] = partial(_tls, config, target)
    for name in FAMILIES:
        if name in options.skip:
            runner.skipped(name, "skipped: --skip")
        elif name not in work:
            runner.skipped(name, NO_URL)
        else:
            runner.family(name, work[name])
    report.finished_at = time.time()
    return report
