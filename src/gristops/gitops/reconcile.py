"""One reconcile pass (`gristops gitops sync`), and the loop that repeats it (`run`).

A pass: fetch the branch; verify the head commit's signature (when
gitops.allowed_signers is set); render the environment; compare it with what
is live (the gristops.yaml file and the release serving); apply a difference
through the same gates as a hand deploy: `config check` on the rendered
config, then the blue-green deploy with its health gates, watch and
automatic rollback. The file is written before the deploy (the new slot
reads it) and put back when the deploy fails. A commit whose deploy failed
is marked bad: passes hold the last good commit until a newer one arrives.

A difference while the live state should be the applied commit's is drift
(a hand edit): reported with its diff, and reverted with gitops.revert_drift.
Every pass is recorded in the state DB, whatever its outcome.
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog
import yaml

from gristops.config import Config, parse_config
from gristops.config.load import literal_secrets
from gristops.deploy.deployer import Deployer
from gristops.deploy.records import DeployRecords
from gristops.errors import CommitRefused, GristopsError, ReconcileBusy, ReconcileFailed
from gristops.files import write_atomic
from gristops.gitops.diff import config_diff
from gristops.gitops.records import GitopsRun, GitopsRuns, Outcome
from gristops.gitops.render import Desired, Renderer
from gristops.gitops.repo import Checkout, Commit, repo_source
from gristops.runtime.locks import held
from gristops.state.db import StateDB
from gristops.store.preflight import check_config

log = structlog.get_logger("gristops.gitops")
Step = Callable[[str], None]
Trigger = Literal["sync", "poll"]


def _quiet(message: str) -> None:
    log.info("gitops step", step=message)


def reconcile_lock(config: Config) -> AbstractContextManager[None]:
    """One pass at a time per data dir (`run`, `sync` and the agent's job share it)."""
    folder = config.data_dir.resolve() / "gitops"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    busy = ReconcileBusy("another gitops pass is running", "wait for it to finish, then retry")
    return held(folder / "lock", busy)


@dataclass
class PassResult:
    """What one pass found and did; filled in as the pass goes."""

    trigger: Trigger
    started_at: float
    outcome: Outcome = "failed"
    head: str | None = None
    commit: str | None = None
    head_bad: bool = False
    bad: bool = False  # this pass marked `commit` bad
    release_id: str | None = None
    changes: list[str] = field(default_factory=list)
    diff: str = ""
    reason: str | None = None
    hint: str | None = None
    finished_at: float = 0.0

    def record(self) -> GitopsRun:
        return GitopsRun(
            0, self.started_at, self.finished_at, self.trigger, self.head, self.commit,
            self.outcome, self.bad, self.release_id, ", ".join(self.changes), self.diff,
            self.reason,
        )  # fmt: skip


@dataclass(frozen=True)
class Live:
    """What serves now: the config file (its text, its mapping, the config it loads to)."""

    text: str | None
    raw: dict[str, Any] | None
    config: Config | None
    release_id: str | None
    problem: str | None  # why the file does not load, if it does not


class Reconciler:
    """Reconciles the live state of one gristops.yaml with its repository."""

    def __init__(self, config: Config, state: StateDB, on_step: Step = _quiet) -> None:
        if config.source_path is None:
            raise ValueError("gitops needs a config loaded from a file")
        repo_source(config)  # ConfigError now when gitops.repo is not set
        self.path: Path = config.source_path
        self.config = config  # the last live config that loaded: its gitops: drives passes
        # The machine's gitops: section as written (re-read every pass); until the file is
        # read, as the loaded config holds it.
        self.gitops_raw: Any = config.gitops.model_dump(mode="json", exclude_defaults=True)
        self.state = state
        self.runs = GitopsRuns(state)
        self.step = on_step

    def sync(self, trigger: Trigger = "sync") -> PassResult:
        """One pass now; recorded whatever its outcome. ReconcileBusy if one is running."""
        result = PassResult(trigger, time.time())
        with reconcile_lock(self.config):
            try:
                self._pass(result)
            except CommitRefused as exc:
                result.outcome, result.reason, result.hint = "refused", exc.message, exc.hint
            except GristopsError as exc:
                result.outcome, result.reason, result.hint = "failed", exc.message, exc.hint
            except OSError as exc:  # e.g. a full disk while writing the live file
                result.outcome, result.reason = "failed", f"{type(exc).__name__}: {exc}"
                result.hint = "check data_dir and the config file's folder: space, permissions"
            result.finished_at = time.time()
            self.runs.record(result.record())
        level = "info" if result.outcome in ("applied", "in_sync", "reverted") else "warning"
        getattr(log, level)(
            "gitops pass", outcome=result.outcome, head=result.head, commit=result.commit,
            changes=result.changes, reason=result.reason,
        )  # fmt: skip
        return result

    def run(self, stop: threading.Event, interval: float | None = None) -> None:
        """Pass after pass until `stop` is set; a failing pass is recorded and the loop goes on."""
        while not stop.is_set():
            try:
                self.sync("poll")
            except ReconcileBusy:
                log.info("a gitops pass is already running elsewhere; skipped")
            except Exception:  # a bug in one pass must not end the loop
                log.exception("gitops pass crashed")
            stop.wait(interval if interval is not None else self.config.gitops.interval)

    # -- the pass -------------------------------------------------------------------------

    def _read_live(self) -> Live:
        active = DeployRecords(self.state).active()
        release_id = active.release_id if active else None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Live(None, None, None, release_id, f"{self.path} is missing")
        try:
            config = parse_config(text, str(self.path), self.path.parent)
        except GristopsError as exc:
            return Live(text, None, None, release_id, exc.message.splitlines()[0])
        raw = yaml.safe_load(text) or {}
        self.config = config
        self.gitops_raw = raw.get("gitops")
        return Live(text, raw, config, release_id, None)

    def _pass(self, result: PassResult) -> None:
        live = self._read_live()
        settings = self.config.gitops
        checkout = Checkout(self.config)
        result.head = checkout.fetch()
        head = checkout.commit(result.head)
        self.step(f"fetched {settings.branch}: {head.short} {head.subject}")
        checkout.verify(head.sha)
        applied = self.runs.applied()
        target = head
        result.head_bad = self.runs.is_bad(head.sha)
        if result.head_bad:
            if applied is None or applied.commit_sha is None:
                result.outcome = "skipped"
                result.reason = f"commit {head.short} is marked bad and none was applied before"
                result.hint = "push a fixed commit (or git revert it)"
                return
            target = checkout.commit(applied.commit_sha)
            self.step(f"{head.short} is marked bad: holding {target.short}")
        result.commit = target.sha
        desired = Renderer(
            checkout.checkout(target.sha), target.sha,
            path=settings.path, environment=settings.environment,
        ).render(self.gitops_raw, settings.wheelhouse)  # fmt: skip
        result.release_id = desired.release.id
        text = self._text(desired, target, checkout.source)
        wanted = self._parse(text, target)
        result.diff = config_diff(
            live.raw if live.config is not None else None,
            desired.config,
            {*literal_secrets(desired.config, wanted), *self._live_secrets(live)},
            live_name=str(self.path),
            desired_name=f"{settings.environment or 'base'} at {target.short}",
        )
        result.changes = (["config"] if result.diff else []) + (
            ["release"] if desired.release.id != live.release_id else []
        )
        if not result.changes:
            result.outcome = "in_sync"
            self.step(f"in sync with {target.short}")
            return
        drift = applied is not None and applied.commit_sha == target.sha
        if live.problem:
            result.reason = f"the live config does not load: {live.problem}"
        if drift and not settings.revert_drift:
            result.outcome = "drift"
            verb = "differ" if len(result.changes) > 1 else "differs"
            what = f"live {' and '.join(result.changes)} {verb} from {target.short}"
            result.reason = what + (f" ({result.reason})" if result.reason else "")
            result.hint = "set gitops.revert_drift: true to put it back, or commit the change"
            return
        self.step(("reverting drift from " if drift else "applying ") + target.short)
        self._apply(result, desired, wanted, text, live, target, drift)

    def _text(self, desired: Desired, commit: Commit, source: str) -> str:
        env = self.config.gitops.environment or "base"
        header = (
            f"# Written by `gristops gitops` from {source} at {commit.sha} ({env}).\n"
            "# A change made here is drift: change the repository instead.\n"
        )
        return header + yaml.safe_dump(desired.config, sort_keys=False, allow_unicode=True)

    def _parse(self, text: str, commit: Commit) -> Config:
        shown = f"the rendered {self.config.gitops.environment or 'base'} config at {commit.short}"
        try:
            wanted = parse_config(text, shown, self.path.parent)
        except GristopsError as exc:
            raise ReconcileFailed(exc.message, f"{exc.hint}; nothing live was changed") from None
        wanted = wanted.model_copy(update={"source_path": self.path})
        if wanted.data_dir != self.config.data_dir:
            raise ReconcileFailed(
                f"{shown}: data_dir {wanted.data_dir} is not the live {self.config.data_dir}",
                "gitops never moves data: keep data_dir as it is live",
            )
        return wanted

    @staticmethod
    def _live_secrets(live: Live) -> list[str]:
        if live.raw is None or live.config is None:
            return []
        return literal_secrets(live.raw, live.config)

    def _apply(
        self,
        result: PassResult,
        desired: Desired,
        wanted: Config,
        text: str,
        live: Live,
        commit: Commit,
        drift: bool,
    ) -> None:
        self.step("checking the rendered config (config check)")
        check = check_config(wanted, desired.config)
        if check.problems:
            raise ReconcileFailed(
                "\n".join(f"{commit.short}: {p}" for p in check.problems),
                "fix the repository and push; nothing live was changed",
            )
        mode = stat.S_IMODE(self.path.stat().st_mode) if live.text is not None else 0o600
        if "config" in result.changes:
            self.step(f"writing {self.path}")
            write_atomic(self.path, text, mode)
        deployer = Deployer(wanted, self.state, self.step)
        try:
            deployed = deployer.deploy(
                desired.release, actor=f"gitops {commit.short}", force="config" in result.changes
            )
        except GristopsError:
            self._restore(live, mode, result)
            raise
        if deployed.outcome in ("success", "unchanged"):
            result.outcome = "reverted" if drift else "applied"
            self.config = wanted
            return
        self._restore(live, mode, result)
        result.outcome = "rolled_back" if deployed.outcome == "rolled_back" else "failed"
        result.bad = True
        result.reason = (
            f"deploy of {commit.short} {deployed.outcome.replace('_', ' ')}: {deployed.reason}"
        )
        result.hint = "the previous state serves again; push a fix or git revert the commit"

    def _restore(self, live: Live, mode: int, result: PassResult) -> None:
        """Put the live file back as it was before this pass wrote it."""
        if "config" not in result.changes:
            return
        self.step(f"restoring {self.path}")
        if live.text is None:
            self.path.unlink(missing_ok=True)
        else:
            write_atomic(self.path, live.text, mode)
