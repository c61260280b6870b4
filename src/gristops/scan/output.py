"""The report as a table for people or JSON for scripts (SARIF is in sarif.py)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from gristops.scan.findings import Report, Severity

STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}


def to_json(report: Report) -> dict[str, Any]:
    return {
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "counts": report.counts(),
        "findings": [f.as_dict() for f in report.sorted_findings()],
        "checks": [{"name": c.name, "ran": c.ran, "detail": c.detail} for c in report.checks],
    }


def print_table(report: Report, console: Console) -> None:
    findings = report.sorted_findings()
    if findings:
        table = Table(show_lines=True, expand=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("finding", ratio=2, overflow="fold")
        table.add_column("evidence and fix", ratio=3, overflow="fold")
        for f in findings:
            table.add_row(
                f"[{STYLES[f.severity]}]{f.severity.label}[/]",
                f"{f.rule.title}\n[dim]{f.rule.id}[/]\n{f.location}",
                f"{f.evidence}\n[bold]fix:[/] {f.rule.fix}",
            )
        console.print(table)
    for check in report.checks:
        mark = "ran" if check.ran else "NOT RUN"
        console.print(f"{check.name}: {mark}" + (f" ({check.detail})" if check.detail else ""))
    counts = ", ".join(f"{n} {label}" for label, n in report.counts().items() if n)
    console.print(f"{len(findings)} findings" + (f": {counts}" if counts else ""))
