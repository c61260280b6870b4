"""Dependency checks: pip-audit over this environment, against an offline OSV database or none.

The advisory databases here are OSV records written by the tests, in the
format of osv.dev's PyPI export; the environment audited is the real one.
"""

from __future__ import annotations

import json
import socket
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from gristops.scan.advisories import affects
from gristops.scan.dependencies import check_dependencies

HTTPX = version("httpx")


def osv(vuln_id: str, package: str, introduced: str, fixed: str) -> dict[str, object]:
    return {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "aliases": [f"CVE-2099-{vuln_id[-4:]}"],
        "summary": f"a test advisory for {package}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def test_a_vulnerable_installed_package_is_found(tmp_path: Path) -> None:
    (tmp_path / "PYSEC-2099-0001.json").write_text(
        json.dumps(osv("PYSEC-2099-0001", "HTTPX", "0", "9999"))
    )
    found, detail = check_dependencies(tmp_path)
    [finding] = found
    assert finding.rule.id == "dependencies.vulnerable"
    assert f"httpx {HTTPX}: PYSEC-2099-0001" in finding.evidence
    assert "fixed in 9999" in finding.evidence
    assert "audited against offline OSV database" in detail


def test_a_database_without_matching_advisories_is_clean(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        record = osv("PYSEC-2099-0002", "httpx", "0", "0.1")  # fixed long before this version
        out.writestr("PYSEC-2099-0002.json", json.dumps(record))
        withdrawn = {
            **osv("PYSEC-2099-0003", "httpx", "0", "9999"),
            "withdrawn": "2099-01-01T00:00:00Z",
        }
        out.writestr("PYSEC-2099-0003.json", json.dumps(withdrawn))
    found, detail = check_dependencies(archive)
    assert found == []
    assert "(1 advisories)" in detail


def test_an_unreachable_advisory_source_is_not_audited_never_clean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    # A proxy that refuses connections stands for a machine without network access.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    found, detail = check_dependencies(None, timeout=2)
    [finding] = found
    assert finding.rule.id == "dependencies.not-audited"
    assert finding.evidence.startswith("not audited: PyPI's advisory API")
    assert detail == "not audited"
    assert "no known vulnerabilities" not in finding.evidence.lower()


def test_a_missing_or_unreadable_database_is_a_usage_error(tmp_path: Path) -> None:
    from gristops.errors import ConfigError

    with pytest.raises(ConfigError, match="no such advisory database"):
        check_dependencies(tmp_path / "absent.zip")
    (tmp_path / "notes.txt").write_text("not OSV")
    with pytest.raises(ConfigError, match="not a directory or zip file of OSV records"):
        check_dependencies(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    ("events", "versions", "inside"),
    [
        (
            [{"introduced": "1.0"}, {"fixed": "1.5"}],
            [],
            {"1.0": True, "1.4.9": True, "1.5": False, "0.9": False},
        ),
        ([{"introduced": "0"}, {"last_affected": "2.0"}], [], {"2.0": True, "2.0.1": False}),
        (
            [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}],
            [],
            {"1.1": True, "1.3": False, "3.0": True},
        ),
        ([], ["1.7"], {"1.7": True, "1.8": False}),
    ],
)
def test_osv_ranges(
    events: list[dict[str, str]], versions: list[str], inside: dict[str, bool]
) -> None:
    affected = {"versions": versions, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
    assert {v: affects(affected, Version(v)) for v in inside} == inside
