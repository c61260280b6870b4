"""The HTML report of a result: checks, latency and throughput over time, scenarios, errors.

One self-contained page: the plots are inline SVG drawn by matplotlib (no
script, no request to anywhere), so it opens from a CI artifact or a mail.
"""

from __future__ import annotations

import io
from html import escape
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from gristops.loadtest.result import Result, Stats

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

OVERALL_COLOUR = "#1d2330"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML prolog and doctype


def _figure() -> tuple[Figure, Axes]:
    # Figure without pyplot: no global figure manager, nothing left open.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.6))
    axes = figure.add_subplot()
    axes.grid(True, color="#e6e9ef")
    axes.set_xlabel("seconds since start")
    return figure, axes


def latency_chart(result: Result, p95_limit: float | None) -> str:
    """p95 of each scenario, second by second, under the overall p50 and p95."""
    figure, axes = _figure()
    times = [point.t for point in result.timeline]
    for name in result.scenarios:
        values = [
            p.scenarios[name].p95_ms if name in p.scenarios else None for p in result.timeline
        ]
        # Markers: a scenario seen in one second only (a login at start) is still a visible point.
        axes.plot(times, [float("nan") if v is None else v for v in values], marker=".",
                  markersize=4, linewidth=1, alpha=0.75, label=f"{name} p95")  # fmt: skip
    for key, style in (("p95_ms", "-"), ("p50_ms", "--")):
        values = [getattr(p.overall, key) for p in result.timeline]
        axes.plot(times, [float("nan") if v is None else v for v in values], style,
                  color=OVERALL_COLOUR, linewidth=2.2, label=f"overall {key[:3]}")  # fmt: skip
    if p95_limit is not None:
        axes.axhline(p95_limit, color="#b3261e", linestyle=":", label="p95 limit")
    axes.set_ylabel("ms")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return _svg(figure)


def throughput_chart(result: Result) -> str:
    """Requests and failures per second, with the virtual users on a second axis."""
    figure, axes = _figure()
    times = [point.t for point in result.timeline]
    axes.bar(times, [p.overall.requests for p in result.timeline], width=0.9,
             color="#7aa6d6", label="requests/s")  # fmt: skip
    axes.bar(times, [p.overall.failures for p in result.timeline], width=0.9,
             color="#b3261e", label="failures/s")  # fmt: skip
    axes.set_ylabel("requests per second")
    users = axes.twinx()
    users.plot(times, [p.users for p in result.timeline], color=OVERALL_COLOUR, linewidth=2,
               label="users")  # fmt: skip
    users.set_ylabel("virtual users")
    users.set_ylim(bottom=0)
    handles = axes.get_legend_handles_labels()
    more = users.get_legend_handles_labels()
    axes.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left",
                bbox_to_anchor=(1.08, 1.0), fontsize="small", frameon=False)  # fmt: skip
    return _svg(figure)


def _numeric(cell: str) -> bool:
    return cell.rstrip("%").replace(".", "", 1).isdigit()


def _table(header: list[str], rows: list[list[str]], failing: list[bool] | None = None) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        f"<tr{' class=fail' if failing and failing[i] else ''}>"
        + "".join(
            f"<td{'' if _numeric(cell) else ' class=text'}>{escape(cell)}</td>" for cell in row
        )
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _stats_row(name: str, stats: Stats) -> list[str]:
    return [
        name, f"{stats.requests}", f"{stats.failures}", f"{stats.error_rate:.2%}",
        f"{stats.rps:.1f}", f"{stats.p50_ms:.0f}", f"{stats.p95_ms:.0f}", f"{stats.p99_ms:.0f}",
        f"{stats.max_ms:.0f}",
    ]  # fmt: skip


def render(result: Result, p95_limit: float | None = None) -> str:
    """The report page for a judged (or unjudged) result."""
    verdict = {True: "passed", False: "failed", None: "not judged"}[result.passed]
    checks = sorted(result.checks, key=lambda check: check.passed)
    template = resources.files("gristops.loadtest").joinpath("report.html").read_text("utf-8")
    header = ["", "requests", "failures", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    return Template(template).substitute(
        verdict=verdict,
        verdict_class={"passed": "passed", "failed": "failed"}.get(verdict, "none"),
        target=escape(result.target),
        plan=escape(result.plan),
        started_at=escape(result.started_at),
        seconds=f"{result.seconds:.0f}",
        peak_users=str(result.peak_users),
        checks=_table(
            ["check", "result"],
            [[check.describe(), "pass" if check.passed else "FAIL"] for check in checks],
            [not check.passed for check in checks],
        ),
        latency_chart=latency_chart(result, p95_limit),
        throughput_chart=throughput_chart(result),
        scenarios=_table(
            header,
            [_stats_row("overall", result.overall)]
            + [_stats_row(name, stats) for name, stats in sorted(result.scenarios.items())],
        ),
        errors=_table(
            ["scenario", "error", "count"],
            [[e.scenario, e.error, str(e.count)] for e in result.errors],
        ),
    )
