"""Render the desired state of one environment from a checkout: base + overlay, merged.

Layout (under gitops.path):

    base/gristops.yaml                 the config shared by every environment
    base/release.yaml                  the release: {version: X} or {path: P}
    overlays/<env>/gristops.yaml       optional: merged over the base
    overlays/<env>/release.yaml        optional: replaces the base's release

The merge is deep for mappings: an overlay key that holds a mapping merges
into the base's mapping; any other value (a list, a string, a number, null)
replaces the base's. The machine's own `gitops:` section is put in; a
repository that sets one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from gristops.config.section import Section
from gristops.deploy.release import Release, load_release
from gristops.errors import GristopsError, ReconcileFailed

CONFIG_FILE = "gristops.yaml"
RELEASE_FILE = "release.yaml"
FIX_HINT = "fix it in the repository and push; nothing live was changed"


class ReleaseSpec(Section):
    """Which release to run: a version found in gitops.wheelhouse, or a path."""

    version: str | None = Field(None, description="gristops-<version>-*.whl in gitops.wheelhouse.")
    path: str | None = Field(
        None,
        description="A wheel or a release directory: relative to the repository, or an "
        "absolute path on the machine.",
    )

    @model_validator(mode="after")
    def _one(self) -> ReleaseSpec:
        if (self.version is None) == (self.path is None):
            raise ValueError("set exactly one of version and path")
        return self


@dataclass(frozen=True)
class Desired:
    """One environment's rendered state at one commit."""

    config: dict[str, Any]  # gristops.yaml as it will be written (${ENV} left as written)
    release: Release
    sources: tuple[str, ...]  # the files merged, in order


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: mappings merge key by key, every other value replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def read_mapping(path: Path, shown: str) -> dict[str, Any]:
    """The YAML mapping in `path`; ReconcileFailed with the place of any mistake."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReconcileFailed(f"{shown}:{where} not valid YAML: {problem}", FIX_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcileFailed(f"{shown}: cannot read: {exc}", FIX_HINT) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ReconcileFailed(f"{shown}: the top level must be a mapping of keys", FIX_HINT)
    return data


class Renderer:
    """Renders gitops.environment from a checkout at a commit."""

    def __init__(self, root: Path, commit: str, *, path: str, environment: str | None) -> None:
        self.root = root
        self.commit = commit
        self.top = root / path if path else root
        self.folders = [self.top / "base"]
        if environment is not None:
            self.folders.append(self.top / "overlays" / environment)

    def _shown(self, path: Path) -> str:
        return f"{path.relative_to(self.root)} at {self.commit[:12]}"

    def render(self, machine_gitops: Any, wheelhouse: Path | None) -> Desired:
        for folder in self.folders:
            if not folder.is_dir():
                raise ReconcileFailed(
                    f"commit {self.commit[:12]} has no folder {folder.relative_to(self.root)}/",
                    "check gitops.path and gitops.environment, or add the folder to the repository",
                )
        base_config = self.folders[0] / CONFIG_FILE
        if not base_config.is_file():
            raise ReconcileFailed(f"{self._shown(base_config)}: missing", FIX_HINT)
        config: dict[str, Any] = {}
        sources: list[str] = []
        for file in (folder / CONFIG_FILE for folder in self.folders):
            if file.is_file():
                layer = read_mapping(file, self._shown(file))
                if "gitops" in layer:
                    raise ReconcileFailed(
                        f"{self._shown(file)}: gitops: is this machine's own setting and "
                        "cannot come from the repository",
                        "remove it from the repository; set it in the live gristops.yaml",
                    )
                config = deep_merge(config, layer)
                sources.append(str(file.relative_to(self.root)))
        if machine_gitops is not None:
            config["gitops"] = machine_gitops
        release_file = next(
            (f for f in (d / RELEASE_FILE for d in reversed(self.folders)) if f.is_file()), None
        )
        if release_file is None:
            raise ReconcileFailed(
                f"commit {self.commit[:12]} names no release: no {RELEASE_FILE} in "
                + " or ".join(f"{d.relative_to(self.root)}/" for d in self.folders),
                f"add {RELEASE_FILE} with `version: X` or `path: P`",
            )
        sources.append(str(release_file.relative_to(self.root)))
        release = self._release(release_file, wheelhouse)
        return Desired(config, release, tuple(sources))

    def _release(self, file: Path, wheelhouse: Path | None) -> Release:
        shown = self._shown(file)
        try:
            spec = ReleaseSpec.model_validate(read_mapping(file, shown))
        except ValidationError as exc:
            problem = exc.errors()[0]
            loc = ".".join(str(p) for p in problem["loc"])
            raise ReconcileFailed(
                f"{shown}: {loc + ': ' if loc else ''}{problem['msg']}",
                "write `version: X` (a wheel in gitops.wheelhouse) or `path: P`",
            ) from None
        try:
            return load_release(self._release_path(spec, shown, wheelhouse))
        except GristopsError as exc:
            raise ReconcileFailed(f"{shown}: {exc.message}", exc.hint or FIX_HINT) from None

    def _release_path(self, spec: ReleaseSpec, shown: str, wheelhouse: Path | None) -> Path:
        if spec.path is not None:
            path = Path(spec.path)
            if path.is_absolute():
                return path
            inside = (self.root / path).resolve()
            if not inside.is_relative_to(self.root.resolve()):
                raise ReconcileFailed(
                    f"{shown}: path {spec.path} leads out of the repository", FIX_HINT
                )
            return inside
        if wheelhouse is None:
            raise ReconcileFailed(
                f"{shown}: version {spec.version} needs gitops.wheelhouse, the folder of wheels",
                "set gitops.wheelhouse in the live gristops.yaml, or give the release as a path",
            )
        wheels = sorted(wheelhouse.glob(f"gristops-{spec.version}-*.whl"))
        if len(wheels) != 1:
            raise ReconcileFailed(
                f"{shown}: {len(wheels)} wheels gristops-{spec.version}-*.whl in {wheelhouse}; "
                "one is needed",
                f"put that release's wheel there (pip wheel . --no-deps -w {wheelhouse})",
            )
        return wheels[0]
