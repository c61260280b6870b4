"""The `gitops:` section of gristops.yaml: where the desired state lives and how it is pulled.

This section belongs to the machine, not to the repository: the rendered
config always carries the live file's own `gitops:` section, and a
repository that sets one is refused (a commit cannot switch off its own
signature check).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from gristops.config.section import Section

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class GitopsSection(Section):
    """Pull-based deploys from a Git repository (gristops gitops)."""

    repo: str | None = Field(
        None,
        description="The Git repository holding the desired state: a path or a URL "
        "(https://, ssh://, git@host:path). Unset: gitops is off.",
    )
    branch: str = Field("main", description="The branch followed.")
    environment: str | None = Field(
        None,
        description="The overlay applied over base/ (overlays/<environment>/); unset: base/ alone.",
    )
    path: str = Field(
        "", description="Folder inside the repository holding base/ and overlays/ ('' : its root)."
    )
    interval: float = Field(
        60.0, ge=5, le=3600, description="Seconds between passes of `gristops gitops run`."
    )
    allowed_signers: Path | None = Field(
        None,
        description="An SSH allowed-signers file: set, every commit applied must carry a good "
        "SSH signature by one of its keys (git verify-commit).",
    )
    revert_drift: bool = Field(
        False,
        description="Put the desired state back when the live config or release was changed by "
        "hand; false: report the drift only.",
    )
    wheelhouse: Path | None = Field(
        None,
        description="Folder of gristops wheels: a release given as {version: X} is "
        "gristops-X-*.whl in it.",
    )
    fetch_timeout: float = Field(120.0, gt=0, le=3600, description="Seconds a fetch may take.")

    @field_validator("branch", "environment")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' and '-' (not starting with '-')")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parts = Path(value).parts
        if value.startswith("/") or ".." in parts:
            raise ValueError("must be a relative folder inside the repository, without '..'")
        return value.strip("/")
