"""SARIF 2.1.0 output, for code-scanning dashboards and CI annotations.

Every rule the scan knows is listed in the driver, each finding is a result
pointing at its rule; file locations are artifact URIs, config keys logical
locations, URLs artifact URIs as they are. `security-severity` (0-10) is the
property GitHub code scanning ranks by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gristops import __version__
from gristops.scan.findings import Finding, Report, Rule, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}
SECURITY_SEVERITY = {
    Severity.LOW: "3.0",
    Severity.MEDIUM: "5.0",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.id.replace(".", "/"),
        "shortDescription": {"text": rule.title},
        "help": {"text": f"Fix: {rule.fix}"},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": ["security"],
        },
    }


def _location(finding: Finding) -> dict[str, Any]:
    where = finding.location
    location: dict[str, Any] = {}
    uri = where.url or (where.path.resolve().as_uri() if where.path is not None else None)
    if uri is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": uri}}
    if where.key is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": where.key, "kind": "member"}]
    return location


def to_sarif(report: Report, rules: Sequence[Rule]) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = [
        {
            "ruleId": f.rule.id,
            "ruleIndex": index[f.rule.id],
            "level": LEVELS[f.severity],
            "message": {"text": f"{f.rule.title}: {f.evidence}. Fix: {f.rule.fix}"},
            "locations": [_location(f)],
        }
        for f in report.sorted_findings()
    ]
    notes = [
        {"level": "warning", "message": {"text": f"{c.name}: {c.detail}"}}
        for c in report.checks
        if not c.ran
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gristops scan",
                        "version": __version__,
                        "rules": [_rule(r) for r in rules],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notes,
                    }
                ],
                "results": results,
            }
        ],
    }
