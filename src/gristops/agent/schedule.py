"""When a scheduled job is due, from its spec and when it last started.

Times of day (`at`) are local time, like systemd's OnCalendar. A job whose
due time passed while no agent ran (the machine was off) runs once as soon
as an agent starts, then follows its schedule (systemd's Persistent=true).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gristops.config.observe import JobSpec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_occurrence(job: JobSpec, after: float) -> float:
    """The first `at` time (on an allowed weekday) strictly after `after` (epoch seconds)."""
    start = datetime.fromtimestamp(after)  # naive local time, as the schedule is written
    days: set[str] = set(job.days) or set(WEEKDAYS)
    for offset in range(8):
        day = (start + timedelta(days=offset)).date()
        if WEEKDAYS[day.weekday()] not in days:
            continue
        for text in sorted(job.at):
            hour, minute = (int(part) for part in text.split(":"))
            candidate = datetime(day.year, day.month, day.day, hour, minute).timestamp()
            if candidate > after:
                return candidate
    raise AssertionError("a weekly schedule always has a time within 8 days")


def due_at(job: JobSpec, last_started: float | None, now: float) -> float:
    """When `job` should next start; <= now means now."""
    interval = job.interval_seconds()
    if interval is not None:
        return now if last_started is None else last_started + interval
    return next_occurrence(job, now if last_started is None else last_started)
