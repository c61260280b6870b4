"""The packaged experiments, run through Chaos Toolkit's own API (chaoslib).

An experiment is a Chaos Toolkit JSON file in gristops/chaos/experiments/; it
also runs with `chaos run FILE` as it is. Here each is loaded, its timings
shortened on request (the `short` values of its `gristops` extension), the
caller's variables applied over its configuration, and it runs with rollbacks
always played. It passes when the steady state held before and after, every
method activity succeeded (the traffic probe checks the pass criteria) and
every rollback succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment

from gristops.chaos.probes import FIGURES_FILE
from gristops.errors import ConfigError, NotFound

EXTENSION = "gristops"
SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    description: str
    definition: dict[str, Any]

    def short_values(self) -> dict[str, Any]:
        for extension in self.definition.get("extensions", []):
            if extension.get("name") == EXTENSION:
                return dict(extension.get("short", {}))
        return {}


@dataclass
class Outcome:
    """How a run went: Chaos Toolkit's status, each phase, the traffic's figures."""

    name: str
    status: str
    steady_before: bool | None
    steady_after: bool | None
    activities: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)  # what each fault action reported
    rollbacks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "steady_state_before": self.steady_before,
            "steady_state_after": self.steady_after,
            "activities": self.activities,
            "outputs": self.outputs,
            "rollbacks": self.rollbacks,
            "problems": self.problems,
            "figures": self.figures,
            "seconds": round(self.seconds, 1),
        }


def _folder() -> Any:
    return resources.files("gristops.chaos").joinpath("experiments")


def experiments() -> list[Experiment]:
    """Every packaged experiment, by name."""
    found = []
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            definition = json.loads(entry.read_text(encoding="utf-8"))
            found.append(
                Experiment(
                    entry.name.removesuffix(".json"),
                    definition["title"],
                    definition.get("description", ""),
                    definition,
                )
            )
    return found


def experiment(name: str) -> Experiment:
    for candidate in experiments():
        if candidate.name == name:
            return candidate
    known = ", ".join(e.name for e in experiments())
    raise NotFound(f"no chaos experiment named {name!r}", hint=f"`gristops chaos list`: {known}")


def parse_value(text: str) -> Any:
    """A --var value: JSON when it parses (numbers, true, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _state(journal: dict[str, Any], phase: str) -> bool | None:
    state = journal.get("steady_states", {}).get(phase)
    return None if state is None else bool(state.get("steady_state_met"))


def _statuses(runs: list[dict[str, Any]]) -> dict[str, str]:
    return {run["activity"]["name"]: run["status"] for run in runs}


def _outputs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The actions' results (what was killed, how the deploy ended...), by name."""
    return {
        run["activity"]["name"]: run["output"]
        for run in runs
        if run["activity"]["type"] == "action" and isinstance(run.get("output"), dict)
    }


def _problems(journal: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if _state(journal, "before") is not True:
        found.append("steady state not met before the fault (is the service up and configured?)")
    elif _state(journal, "after") is not True:
        found.append("steady state not met after the fault: the service did not recover")
    for phase, runs in (("method", journal.get("run", [])), ("rollback", journal["rollbacks"])):
        for run in runs:
            if run["status"] != "succeeded":
                reason = str(run.get("exception", [""])[-1]).strip().splitlines()[-1:]
                found.append(f"{phase} {run['activity']['name']} failed: {''.join(reason)}")
    if journal.get("status") not in ("completed", None) and not found:
        found.append(f"Chaos Toolkit ended the run as {journal.get('status')}")
    return found


def _optional_secrets(definition: dict[str, Any]) -> None:
    """An env secret with a `default` (which chaoslib has only for configuration) takes it
    when its variable is not set."""
    for scope in definition.get("secrets", {}).values():
        for key, entry in scope.items():
            if isinstance(entry, dict) and "default" in entry and entry["key"] not in os.environ:
                scope[key] = entry["default"]


def run(name: str, variables: dict[str, Any], short: bool = False) -> Outcome:
    """Run experiment `name`; `variables` override its configuration (after the short values)."""
    chosen = experiment(name)
    definition = json.loads(json.dumps(chosen.definition))  # chaoslib edits what it runs
    with tempfile.TemporaryDirectory(prefix="gristops-chaos-") as scratch:
        # Values given here replace the configuration's entries (and their env lookups).
        given = {"scratch_dir": scratch, **(chosen.short_values() if short else {}), **variables}
        definition["configuration"] = {**definition.get("configuration", {}), **given}
        _optional_secrets(definition)
        try:
            ensure_experiment_is_valid(definition)
        except ChaosException as exc:
            raise ConfigError(
                f"experiment {name} cannot run: {exc}",
                hint="give each variable it needs with --var KEY=VALUE or GRISTOPS_CHAOS_KEY "
                "(docs/chaos.md lists them)",
            ) from None
        logging.getLogger("chaostoolkit").setLevel(logging.INFO)
        journal = run_experiment(definition, settings=SETTINGS)
        record = Path(scratch) / FIGURES_FILE
        figures = json.loads(record.read_text()) if record.is_file() else {}
    return Outcome(
        name=name,
        status=str(journal.get("status")),
        steady_before=_state(journal, "before"),
        steady_after=_state(journal, "after"),
        activities=_statuses(journal.get("run", [])),
        outputs=_outputs(journal.get("run", [])),
        rollbacks=_statuses(journal.get("rollbacks", [])),
        problems=_problems(journal),
        figures=figures,
        seconds=float(journal.get("duration") or 0.0),
    )
