"""An offline advisory database for pip-audit: OSV records in a directory or a zip file.

pip-audit's own services (PyPI's JSON API, the OSV API, ESMS) all need the
network; none reads files. The OSV project publishes every PyPI advisory as one
zip of OSV JSON records (the `PyPI/all.zip` export of osv.dev); this service
plugs that file (or a directory of such records) into pip-audit's auditor, so
pip-audit still enumerates the environment and merges aliases. Matching follows
the OSV schema: explicit `versions`, then `ECOSYSTEM` ranges of introduced /
fixed / last_affected events.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pip_audit._service import (
    Dependency,
    ResolvedDependency,
    VulnerabilityResult,
    VulnerabilityService,
)

from gristops.errors import ConfigError


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield json.loads(file.read_text(encoding="utf-8"))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith(".json"):
                    yield json.loads(archive.read(name))
    else:
        raise ConfigError(
            f"{path}: not a directory or zip file of OSV records",
            "pass the PyPI export of osv.dev (all.zip) or a directory of its .json records",
        )


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(affected: dict[str, Any], version: Version) -> bool:
    """Whether one `affected` entry of an OSV record covers `version`."""
    if str(version) in affected.get("versions", ()):
        return True
    for span in affected.get("ranges", ()):
        if span.get("type") != "ECOSYSTEM":
            continue
        inside = False
        for event in span.get("events", ()):
            if "introduced" in event:
                start = event["introduced"]
                inside = (
                    inside or start == "0" or ((v := _version(start)) is not None and version >= v)
                )
            elif (
                "fixed" in event and (v := _version(event["fixed"])) is not None and version >= v
            ) or (
                "last_affected" in event
                and (v := _version(event["last_affected"])) is not None
                and version > v
            ):
                inside = False
        if inside:
            return True
    return False


def _fixes(affected: dict[str, Any]) -> list[Version]:
    return sorted(
        v
        for span in affected.get("ranges", ())
        for event in span.get("events", ())
        if "fixed" in event and (v := _version(event["fixed"])) is not None
    )


class OfflineOsvService(VulnerabilityService):  # type: ignore[misc]  # pip-audit is untyped
    """pip-audit's vulnerability service over a local copy of OSV's PyPI advisories."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise ConfigError(f"{path}: no such advisory database", "check --advisories")
        self.index: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
        self.count = 0
        for record in _records(path):
            if record.get("withdrawn"):
                continue
            self.count += 1
            for affected in record.get("affected", ()):
                package = affected.get("package", {})
                if package.get("ecosystem") == "PyPI" and package.get("name"):
                    self.index[canonicalize_name(package["name"])].append((record, affected))

    def query(self, spec: Dependency) -> tuple[Dependency, list[VulnerabilityResult]]:
        if spec.is_skipped():
            return spec, []
        resolved = cast(ResolvedDependency, spec)
        results = [
            VulnerabilityResult.create(
                ids=[record["id"], *record.get("aliases", ())],
                description=str(record.get("summary") or record.get("details") or "N/A"),
                fix_versions=_fixes(affected),
                published=None,
            )
            for record, affected in self.index.get(resolved.canonical_name, ())
            if affects(affected, resolved.version)
        ]
        return spec, results
