"""An agent job's schedule (`every` or `at` + `days`) as a CronJob schedule."""

from __future__ import annotations

from gristops.config.observe import JobSpec
from gristops.errors import ConfigError

DAY_NUMBERS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def cron_schedule(job: JobSpec) -> str:
    """Five cron fields; ConfigError when cron cannot say it (it has no seconds, no 5h steps)."""
    seconds = job.interval_seconds()
    if seconds is not None:
        return _every(job.name, seconds)
    minutes = {time.split(":")[1] for time in job.at}
    if len(minutes) > 1:
        raise ConfigError(
            f"observe.agent.jobs {job.name!r}: the times {', '.join(job.at)} differ in minutes, "
            "which one CronJob cannot run",
            "give each minute its own job",
        )
    hours = ",".join(str(int(time.split(":")[0])) for time in job.at)
    days = ",".join(str(DAY_NUMBERS[day]) for day in job.days) or "*"
    return f"{int(minutes.pop())} {hours} * * {days}"


def _every(name: str, seconds: int) -> str:
    minutes, hours = seconds // 60, seconds // 3600
    if seconds % 60 == 0 and 60 % minutes == 0 and minutes < 60:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if seconds % 3600 == 0 and 24 % hours == 0 and hours < 24:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if seconds == 86400:
        return "0 0 * * *"
    raise ConfigError(
        f"observe.agent.jobs {name!r}: every {seconds} s is no cron schedule",
        "use minutes dividing an hour, hours dividing a day, 1d, or `at` times",
    )
