"""Job schedules: intervals, times of day, weekdays, and the config errors users see."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from gristops.agent.schedule import due_at, next_occurrence
from gristops.config.observe import AgentSection, JobSpec


def local(*args: int) -> float:
    return datetime(*args).timestamp()  # type: ignore[arg-type]


def test_an_interval_job_runs_at_once_the_first_time_then_every_interval() -> None:
    job = JobSpec(name="prune", command=("backup", "prune"), every="6h")
    now = local(2026, 3, 2, 12, 0)
    assert due_at(job, None, now) == now
    assert due_at(job, now - 3600, now) == now + 5 * 3600


def test_a_daily_job_runs_at_its_time_and_catches_up_once_after_downtime() -> None:
    job = JobSpec(name="backup", command=("backup", "run"), at=("03:30",))
    now = local(2026, 3, 2, 12, 0)  # a Monday
    assert due_at(job, None, now) == local(2026, 3, 3, 3, 30)
    # Last ran two days ago: the missed 03:30 is due now (it is in the past).
    assert due_at(job, local(2026, 2, 28, 3, 30), now) == local(2026, 3, 1, 3, 30)


def test_weekdays_limit_a_time_of_day_job() -> None:
    job = JobSpec(name="drill", command=("backup", "drill"), at=("02:00", "14:00"), days=("sun",))
    assert next_occurrence(job, local(2026, 3, 2, 12, 0)) == local(2026, 3, 8, 2, 0)
    assert next_occurrence(job, local(2026, 3, 8, 2, 0)) == local(2026, 3, 8, 14, 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"every": "1h", "at": ["03:00"]}, "exactly one of `every` and `at`"),
        ({}, "exactly one of `every` and `at`"),
        ({"every": "soon"}, 'use a duration of at least 1 s: 30 or "30s", "15m"'),
        ({"every": "0s"}, "use a duration of at least 1 s"),
        ({"at": ["25:00"]}, "HH:MM"),
        ({"every": "1h", "days": ["mon"]}, "`days` needs `at`"),
        ({"every": "1h", "command": ["--config", "x"]}, "must start with a gristops verb"),
    ],
)
def test_bad_job_specs_say_what_to_fix(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JobSpec.model_validate({"name": "job", "command": ["backup", "run"], **spec})


def test_job_names_must_be_unique() -> None:
    job = {"name": "backup", "command": ["backup", "run"], "every": "1d"}
    with pytest.raises(ValidationError, match="unique: backup"):
        AgentSection.model_validate({"jobs": [job, job]})
