"""CPU and memory of the whole gateway: the `serve` process and its workers, read from /proc.

With one process this is what prometheus_client's ProcessCollector exports. With
workers, a per-process collector would answer for whichever worker the scrape
reached, and process_cpu_seconds_total would jump between workers; here the CPU
is summed over the `serve` process (including the workers it has reaped, from its
children's times) and its live workers, so the counter only grows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gristops.runtime import pids

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name (field 3 is index 0), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


class GatewayProcesses(Collector):
    """process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds."""

    def __init__(self, *, shared: bool, registry: CollectorRegistry) -> None:
        # A worker's parent is the uvicorn process that started it and reaps it.
        self._root = os.getppid() if shared else os.getpid()
        self._shared = shared
        try:
            self._btime = _boot_time()
        except OSError:  # no /proc: nothing to export
            return
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        root = _stat(self._root)
        if root is None:
            return []
        # utime, stime, then the times of reaped children (cutime, cstime).
        cpu = sum(float(field) for field in root[11:15]) / _TICKS
        rss = int(root[21]) * _PAGE
        workers = pids.children(self._root) if self._shared else set()
        for pid in workers:
            fields = _stat(pid)
            if fields is not None:
                cpu += (float(fields[11]) + float(fields[12])) / _TICKS
                rss += int(fields[21]) * _PAGE
        return [
            CounterMetricFamily(
                "process_cpu_seconds", "CPU seconds of the gateway's processes.", value=cpu
            ),
            GaugeMetricFamily(
                "process_resident_memory_bytes",
                "Resident memory of the gateway's processes.",
                value=rss,
            ),
            GaugeMetricFamily(
                "process_start_time_seconds",
                "When the gateway started, in seconds since the epoch.",
                value=self._btime + float(root[19]) / _TICKS,
            ),
        ]
