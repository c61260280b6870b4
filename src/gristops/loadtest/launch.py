"""Run a plan: check the target and the login, start the runner process, follow it, read its result.

Locust never loads into this process: the runner is `python -m
gristops.loadtest.runner` (see runner.py), started through runtime/process.py.
"""

from __future__ import annotations

import json
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import httpx
from pydantic import ValidationError

from gristops.errors import ConfigError, ExternalProgramError, LoadtestFailed
from gristops.files import write_atomic
from gristops.loadtest.plan import RUNNER_PASSWORD_ENV, Plan
from gristops.loadtest.result import Progress, Result
from gristops.runtime.process import Service

INSTALL_HINT = "pip install 'gristops[loadtest]' (Locust and the report's plots)"
OnProgress = Callable[[Progress], None]


@dataclass(frozen=True)
class Target:
    """Where the traffic goes: the gateway (http://...) or the edge (https://...)."""

    url: str
    ca_file: Path | None = None  # trust for an https target; the system's when None

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True


def check_target(target: Target, plan: Plan, password: str) -> None:
    """One login before any load: a wrong URL, certificate or password is an error, not a run."""
    if not target.url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--url {target.url}: not an http:// or https:// URL", "e.g. http://127.0.0.1:8484"
        )
    if target.ca_file is not None and not target.ca_file.is_file():
        raise ConfigError(
            f"--ca-file {target.ca_file}: no such file", "give the CA certificate (PEM)"
        )
    body = {"email": plan.login.email, "password": password}
    try:
        answer = httpx.post(f"{target.url.rstrip('/')}/auth/login", json=body,
                            verify=target.verify(), timeout=plan.request_timeout)  # fmt: skip
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise ConfigError(
                f"{target.url}: its TLS certificate is not trusted ({exc})",
                "pass --ca-file with the CA that issued it",
            ) from None
        raise LoadtestFailed(
            f"{target.url} does not answer: {exc}", "start the gateway, or check --url"
        ) from None
    except httpx.HTTPError as exc:
        raise LoadtestFailed(f"{target.url}: {type(exc).__name__}: {exc}", "check --url") from None
    if answer.status_code in (401, 403):
        raise ConfigError(
            f"{target.url}: the login of {plan.login.email} was refused ({answer.status_code})",
            "check login.email and the password the plan reads",
        )
    if answer.status_code != 200:
        raise LoadtestFailed(
            f"{target.url}: the first login answered {answer.status_code}: {answer.text[:200]}",
            "the target must serve the gristops API (/auth/login)",
        )


def _read_progress(path: Path) -> Progress | None:
    try:
        return Progress.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None  # not written yet


def run_plan(
    plan: Plan, target: Target, *, plan_name: str, on_progress: OnProgress | None = None
) -> Result:
    """Run the plan against the target and return its (unjudged) result."""
    if find_spec("locust") is None:
        raise ConfigError("gristops loadtest needs Locust, which is not installed", INSTALL_HINT)
    password = plan.login.password()
    check_target(target, plan, password)
    with tempfile.TemporaryDirectory(prefix="gristops-loadtest-") as scratch:
        work = Path(scratch)
        job = {
            "plan": plan.model_dump(mode="json"),
            "plan_name": plan_name,
            "target": target.url,
            "ca_file": str(target.ca_file) if target.ca_file else None,
            "progress": str(work / "progress.json"),
            "result": str(work / "result.json"),
        }
        write_atomic(work / "job.json", json.dumps(job))
        runner = Service(
            "loadtest runner",
            [sys.executable, "-m", "gristops.loadtest.runner", str(work / "job.json")],
            log_path=work / "runner.log",
            env={RUNNER_PASSWORD_ENV: password},
            secrets=(password,),
        )
        runner.start()
        try:
            while runner.running():
                progress = _read_progress(work / "progress.json")
                if progress is not None and on_progress is not None:
                    on_progress(progress)
                time.sleep(0.5)
        finally:
            status = runner.stop()
        result_file = work / "result.json"
        if status != 0 or not result_file.exists():
            raise ExternalProgramError(
                f"the load runner failed (exit {status}):\n{runner.output()}".rstrip(),
                "the lines above are Locust's own; GRISTOPS_DEBUG=1 shows more",
            )
        return Result.model_validate_json(result_file.read_bytes())
