"""An experiment's figures from its recorded traffic, and the pass criteria checked on them.

Times are seconds since the traffic began. The fault window is what the
watcher saw (Grist not answering its /status) when Grist was watched, else
the window the experiment planned (`fault_at`, `fault_seconds`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gristops.chaos.traffic import Outcome, Traffic


def quantile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank quantile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def outage(traffic: Traffic) -> tuple[float, float | None] | None:
    """When Grist stopped answering 200 and when it did again (None: never down)."""
    watched = [s for s in traffic.samples if s.grist_status is not None]
    down = next((s.at for s in watched if s.grist_status != 200), None)
    if down is None:
        return None
    back = next((s.at for s in watched if s.at > down and s.grist_status == 200), None)
    return down, back


def dead_spells(traffic: Traffic) -> list[tuple[float, float]]:
    """The stretches when Grist did not answer at all (no process listening, or stopped)."""
    spells: list[tuple[float, float]] = []
    start: float | None = None
    for sample in traffic.samples:
        if sample.grist_status == 0 and start is None:
            start = sample.at
        elif sample.grist_status not in (0, None) and start is not None:
            spells.append((start, sample.at))
            start = None
    if start is not None:
        spells.append((start, traffic.seconds))
    return spells


def _during(outcomes: list[Outcome], window: tuple[float, float] | None) -> list[Outcome]:
    if window is None:
        return []
    start, end = window
    return [o for o in outcomes if o.start < end and o.end > start]


def _within(outcome: Outcome, spells: list[tuple[float, float]]) -> bool:
    return any(start <= outcome.start and outcome.end <= end for start, end in spells)


def figures(
    traffic: Traffic, planned: tuple[float, float] | None, stored: list[str] | None
) -> dict[str, Any]:
    """What happened, in numbers: counts, latencies (ms), the outage, recovery, write integrity."""
    reads = [o for o in traffic.outcomes if o.kind == "read"]
    writes = [o for o in traffic.outcomes if o.kind == "write"]
    failed_writes = [o for o in writes if not o.ok]
    failed_reads = [o for o in reads if not o.ok]
    spells = dead_spells(traffic)
    seen = outage(traffic)
    window: tuple[float, float] | None = planned
    if seen is not None:
        window = (seen[0], seen[1] if seen[1] is not None else traffic.seconds)
    before = [o for o in writes if o.ok and window is not None and o.end <= window[0]]
    reads_before = [o for o in reads if window is not None and o.end <= window[0]]
    during_reads = _during(reads, window)
    during_writes = _during(writes, window)
    result: dict[str, Any] = {
        "seconds": round(traffic.seconds, 1),
        "requests": len(traffic.outcomes),
        "client_retries": sum(traffic.retries.values()),
        # A write sent again may have been applied twice (its first answer was lost).
        "write_retries": traffic.retries.get("write", 0),
        "reads": len(reads),
        "reads_failed": len(failed_reads),
        "failed_read_errors": sorted({f"{o.status} {o.error[:160]}" for o in failed_reads})[:5],
        "writes": len(writes),
        "writes_ok": len(writes) - len(failed_writes),
        "writes_failed": len(failed_writes),
        "failed_write_statuses": dict(Counter(str(o.status) for o in failed_writes)),
        "failed_writes_without_retry_after": sum(o.retry_after is None for o in failed_writes),
        "failed_write_max_ms": _ms(max((o.latency for o in failed_writes), default=None)),
        # Writes that began and ended while Grist did not answer at all: these must fail fast
        # (the breaker's trial once Grist listens again may take up to grist.timeout).
        "failed_write_max_while_dead_ms": _ms(
            max((o.latency for o in failed_writes if _within(o, spells)), default=None)
        ),
        "failed_write_errors": sorted({o.error[:160] for o in failed_writes})[:5],
        "max_latency_ms": _ms(max((o.latency for o in traffic.outcomes), default=None)),
        "read_p50_ms": _ms(quantile([o.latency for o in reads], 0.5)),
        "read_p95_ms": _ms(quantile([o.latency for o in reads], 0.95)),
        "read_p95_before_ms": _ms(quantile([o.latency for o in reads_before], 0.95)),
        "read_p95_during_ms": _ms(quantile([o.latency for o in during_reads], 0.95)),
        "write_p50_before_ms": _ms(quantile([o.latency for o in before], 0.5)),
        "write_p50_during_ms": _ms(quantile([o.latency for o in during_writes if o.ok], 0.5)),
        "fault_window_s": None if window is None else [round(t, 2) for t in window],
    }
    back = seen[1] if seen is not None else (None if planned is None else planned[1])
    if back is not None:
        recovered = [o.end for o in writes if o.ok and o.end > back]
        result["recovery_s"] = round(min(recovered) - back, 2) if recovered else None
    if traffic.samples:
        after = [s for s in traffic.samples if back is not None and s.at > back]
        result["ready_503_seen"] = any(s.ready_status == 503 for s in traffic.samples)
        result["breaker_open_seen"] = any(s.breaker_open == 1 for s in traffic.samples)
        # Both back to normal at some point after the fault (a later blip is another story).
        result["normal_again"] = any(s.ready_status == 200 and s.breaker_open == 0 for s in after)
    if stored is not None:
        acknowledged = Counter(o.marker for o in writes if o.ok and o.marker)
        counts = Counter(stored)
        result["acknowledged_missing"] = sum(1 for m in acknowledged if counts[m] == 0)
        result["acknowledged_duplicated"] = sum(1 for m in acknowledged if counts[m] > 1)
        result["unacknowledged_applied"] = sum(1 for m in counts if m not in acknowledged)
    return result


def _over(name: str, value: float | None, limit: float, unit: str = "") -> list[str]:
    if value is None or value <= limit:
        return []
    return [f"{name} {value:g}{unit} > {limit:g}{unit}"]


# Criteria in seconds on a figure in milliseconds: the figure and how a failure names it.
LATENCY_LIMITS = {
    "failed_write_while_dead_max_s": (
        "failed_write_max_while_dead_ms",
        "slowest failed write while Grist was dead",
    ),
    "max_latency_s": ("max_latency_ms", "slowest request"),
    "read_p95_during_max_s": ("read_p95_during_ms", "read p95 during the fault"),
}
TIMING = frozenset(
    {"failed_write_while_dead_max_s", "max_latency_s", "read_p95_during_max_s",
     "write_slowdown_min_s", "recovery_within_s"}
)  # fmt: skip


def split_timing(expect: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`expect` as (behaviour criteria, duration criteria)."""
    timing = {k: v for k, v in expect.items() if k in TIMING}
    return {k: v for k, v in expect.items() if k not in TIMING}, timing


def failures(result: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Every criterion of `expect` that `result` misses, one line each (empty: passed)."""
    found: list[str] = []
    if "reads_failed_max" in expect:
        found += _over("failed reads", result["reads_failed"], expect["reads_failed_max"])
    if "writes_failed_max" in expect:
        found += _over("failed writes", result["writes_failed"], expect["writes_failed_max"])
    if expect.get("fault_bit") and result["writes_failed"] == 0:
        found.append("no write failed: the fault did not reach the gateway")
    if "failed_write_statuses" in expect:
        allowed = {str(s) for s in expect["failed_write_statuses"]}
        other = sorted(set(result["failed_write_statuses"]) - allowed)
        if other:
            found.append(
                f"failed writes answered {', '.join(other)}, expected only {sorted(allowed)}"
            )
    if expect.get("failed_writes_retry_after") and result["failed_writes_without_retry_after"]:
        found.append(
            f"{result['failed_writes_without_retry_after']} failed writes had no Retry-After"
        )
    if "failed_writes_say" in expect:
        unclear = [e for e in result["failed_write_errors"] if expect["failed_writes_say"] not in e]
        if unclear:
            found.append(f"failed writes did not say {expect['failed_writes_say']!r}: {unclear[0]}")
    for key, (figure, what) in LATENCY_LIMITS.items():
        if key in expect:
            found += _over(what, result[figure], expect[key] * 1000, " ms")
    if "write_slowdown_min_s" in expect:
        before, during = result["write_p50_before_ms"], result["write_p50_during_ms"]
        wanted = expect["write_slowdown_min_s"] * 1000
        if before is None or during is None or during - before < wanted:
            found.append(f"write p50 went {before} -> {during} ms, expected +{wanted:g} ms or more")
    if expect.get("recovers") and result.get("recovery_s") is None:
        found.append("no write succeeded after the fault ended")
    if "recovery_within_s" in expect:
        found += _over("recovery", result.get("recovery_s"), expect["recovery_within_s"], " s")
    if expect.get("outage_visible"):
        if not result.get("ready_503_seen"):
            found.append("/ready never answered 503 during the outage")
        if not result.get("breaker_open_seen"):
            found.append("gristops_grist_breaker_open never showed 1 during the outage")
        if not result.get("normal_again"):
            found.append("/ready and the breaker metric did not return to normal together")
    if expect.get("writes_exactly_once"):
        for key in ("acknowledged_missing", "acknowledged_duplicated"):
            if result.get(key):
                found.append(f"{result[key]} acknowledged writes {key.split('_')[1]}")
    return found
