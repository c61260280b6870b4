"""The desired-state repository: a clone under data_dir/gitops/checkout, driven by the git CLI.

Every git command goes through runtime/process.py (timeouts, output in
errors). git never prompts: a repository that needs credentials it does not
have fails the fetch with git's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gristops.config import Config
from gristops.errors import CommitRefused, ConfigError, ExternalProgramError, ReconcileFailed
from gristops.runtime.process import run

# scp-like addresses (git@host:path) and URLs are remote; anything else is a local path.
_REMOTE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|[^/\s]+@[^/\s]+:)")
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
LOCAL_TIMEOUT = 60.0


@dataclass(frozen=True)
class Commit:
    sha: str
    time: float
    author: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]


def repo_source(config: Config) -> str:
    """gitops.repo as git should see it: a URL, or a local path made absolute from the
    config file's folder."""
    repo = config.gitops.repo
    if repo is None:
        raise ConfigError(
            "gitops.repo is not set: there is no repository to follow",
            "set gitops.repo (a path or URL) in gristops.yaml; see docs/gitops.md",
        )
    if _REMOTE.match(repo):
        return repo
    base = config.source_path.parent if config.source_path else Path.cwd()
    return str((base / repo).resolve())


def _said(message: str) -> str:
    """git's own first complaint in an ExternalProgramError message (its first line is ours)."""
    lines = [line.strip() for line in message.splitlines()[1:] if line.strip()]
    complaints = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (complaints or lines or [message])[0]


class Checkout:
    """A clone of gitops.repo that follows gitops.branch, checked out at one commit at a time."""

    def __init__(self, config: Config) -> None:
        self.settings = config.gitops
        self.source = repo_source(config)
        self.root = config.data_dir.resolve() / "gitops" / "checkout"

    def _git(self, *args: str, timeout: float = LOCAL_TIMEOUT) -> str:
        return run(["git", "-C", str(self.root), *args], timeout=timeout, env=GIT_ENV).stdout

    def fetch(self) -> str:
        """Fetch the branch; its commit id."""
        branch = self.settings.branch
        if not (self.root / ".git").is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._git("init", "--quiet")
            self._git("remote", "add", "origin", self.source)
        else:
            self._git("remote", "set-url", "origin", self.source)
        try:
            self._git(
                "fetch", "--quiet", "--no-tags", "--force", "origin",
                f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                timeout=self.settings.fetch_timeout,
            )  # fmt: skip
        except ExternalProgramError as exc:
            raise ReconcileFailed(
                f"cannot fetch branch {branch} of {self.source}: {_said(exc.message)}",
                "check gitops.repo and gitops.branch, the network and the repository's access",
            ) from None
        return self._git(
            "rev-parse", "--verify", f"refs/remotes/origin/{branch}^{{commit}}"
        ).strip()

    def commit(self, sha: str) -> Commit:
        fields = self._git("show", "-s", "--format=%H%x1f%ct%x1f%an%x1f%s", sha).rstrip("\n")
        full, when, author, subject = fields.split("\x1f", 3)
        return Commit(full, float(when), author, subject)

    def checkout(self, sha: str) -> Path:
        """The work tree at `sha`, exactly as committed (no stray files)."""
        self._git("checkout", "--quiet", "--force", "--detach", sha)
        self._git("clean", "-ffdxq")
        return self.root

    def verify(self, sha: str) -> None:
        """CommitRefused unless `sha` carries a good SSH signature by a key of allowed_signers."""
        signers = self.settings.allowed_signers
        if signers is None:
            return
        if not signers.is_file():
            raise ConfigError(
                f"gitops.allowed_signers: no such file {signers}",
                "write one line per key: '<email> ssh-ed25519 AAAA...' (see docs/gitops.md)",
            )
        result = run(
            [
                "git", "-C", str(self.root), "-c", "gpg.format=ssh",
                "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit", sha,
            ],
            timeout=LOCAL_TIMEOUT, env=GIT_ENV, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            why = said[-1] if said else "no signature"
            raise CommitRefused(
                f"commit {sha[:12]} has no good signature by a key in {signers}: {why}",
                "sign commits with a key listed there (git commit -S with gpg.format=ssh); "
                "nothing live was changed",
            )
