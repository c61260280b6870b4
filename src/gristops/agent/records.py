"""The `agent_runs` table: one row per scheduled-job run, by the agent or a systemd timer."""

from __future__ import annotations

from dataclasses import dataclass

from gristops.state.db import StateDB


@dataclass(frozen=True)
class JobRun:
    """A job's latest run, and when the job last succeeded."""

    job: str
    command: str
    started_at: float
    finished_at: float
    outcome: str
    exit_code: int | None
    last_success: float | None


class AgentRuns:
    """Reads and writes of `agent_runs`; each call is one transaction."""

    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(
        self,
        job: str,
        command: str,
        started_at: float,
        finished_at: float,
        outcome: str,
        exit_code: int | None,
        output: str,
    ) -> None:
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO agent_runs (job, command, started_at, finished_at, outcome,"
                " exit_code, output) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job, command, started_at, finished_at, outcome, exit_code, output),
            )

    def last_started(self, job: str) -> float | None:
        with self.state.reading() as conn:
            row = conn.execute(
                "SELECT MAX(started_at) FROM agent_runs WHERE job = ?", (job,)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def latest(self) -> list[JobRun]:
        """Each job's latest run, by job name."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT r.job, r.command, r.started_at, r.finished_at, r.outcome, r.exit_code,"
                " (SELECT MAX(finished_at) FROM agent_runs s WHERE s.job = r.job"
                "  AND s.outcome = 'success')"
                " FROM agent_runs r WHERE r.id IN (SELECT MAX(id) FROM agent_runs GROUP BY job)"
                " ORDER BY r.job"
            ).fetchall()
        return [JobRun(*row) for row in rows]

    def counts(self) -> list[tuple[str, str, int]]:
        """(job, outcome, runs) for every job and outcome seen."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT job, outcome, COUNT(*) FROM agent_runs GROUP BY job, outcome"
            ).fetchall()
        return [(str(job), str(outcome), int(count)) for job, outcome, count in rows]
