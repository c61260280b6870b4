"""`gristops deploy`: install into the idle slot, gate, switch, verify, watch; else switch back.

Every step that fails ends the deploy with a reason; once traffic was switched
the previous slot (still warm) gets it back before the command returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import structlog

from gristops.config import Config
from gristops.deploy import slots
from gristops.deploy.probe import GateFailed, gate_plan, load_gate, smoke, wait_ready
from gristops.deploy.records import DeployRecords, Slot, SlotRecord, other
from gristops.deploy.release import Release
from gristops.deploy.slots import SlotPlace
from gristops.deploy.switch import switch_to, verify_edge, watch
from gristops.errors import DeployBusy, GristopsError, NothingToRollBack
from gristops.runtime.locks import held
from gristops.state.db import StateDB

log = structlog.get_logger("gristops.deploy")
Step = Callable[[str], None]
Result = Literal["success", "rolled_back", "failed", "unchanged"]


@dataclass(frozen=True)
class DeployResult:
    outcome: Result
    release_id: str
    slot: Slot | None
    reason: str | None
    seconds_to_switch: float | None
    seconds: float
    switch_seconds: float | None = None  # the hand-over itself, from gated slot to live


def deploy_lock(config: Config) -> AbstractContextManager[None]:
    busy = DeployBusy("another deploy or rollback is running", "wait for it to finish, then retry")
    return held(config.data_dir.resolve() / "deploy" / "lock", busy)


def _web_root(record: SlotRecord | None) -> Path | None:
    return Path(record.web_root) if record and record.web_root else None


def _quiet(message: str) -> None:
    log.info("deploy step", step=message)


class Deployer:
    """Deploys and rollbacks for one gristops.yaml."""

    def __init__(self, config: Config, state: StateDB, on_step: Step = _quiet) -> None:
        self.config = config
        self.records = DeployRecords(state)
        self.on_step = on_step
        self.current = ""  # the step under way: a failure's reason names it

    def step(self, message: str) -> None:
        self.current = message
        self.on_step(message)

    def place(self, slot: Slot) -> SlotPlace:
        return SlotPlace.of(self.config, slot)

    def deploy(self, release: Release, *, actor: str, force: bool = False) -> DeployResult:
        with deploy_lock(self.config):
            return self._deploy(release, actor=actor, force=force)

    def _deploy(self, release: Release, *, actor: str, force: bool) -> DeployResult:
        started = time.monotonic()
        gate = self.config.deploy.loadtest
        plan = gate_plan(gate) if gate is not None else None  # a bad plan stops us before install
        active = self.records.active()
        if active and active.release_id == release.id and not force:
            self.step(f"{release.id} already serves from {active.slot}: nothing to do")
            return DeployResult("unchanged", release.id, active.slot, None, None, 0.0)
        target = other(active.slot) if active else "blue"
        place = self.place(target)
        entry = self.records.begin(
            "deploy",
            release_id=release.id,
            version=release.version,
            previous_id=active.release_id if active else None,
            slot=target,
            actor=actor,
            commit_time=release.commit_time,
        )
        switched_after: float | None = None
        switch_seconds: float | None = None
        try:
            web = self._install(place, release)
            self._start_and_gate(place)
            if plan is not None:
                self.step(f"load test on {target} ({plan.seconds:g} s)")
                load_gate(place.url(), plan, str(gate))
            self.step(f"switching traffic to {target}")
            switching = time.monotonic()
            switched_after = switching - started  # from here on a failure switches back
            switch_to(self.config, place, web, self.place(active.slot) if active else None)
            switch_seconds = time.monotonic() - switching
            self.records.activate(target)
            self.records.switched(entry)
            self.step("verifying through nginx")
            verify_edge(self.config)
            self.step(f"watching live traffic for {self.config.deploy.watch_seconds:g} s")
            watch(self.config, place)
        except (GateFailed, GristopsError, httpx.HTTPError, OSError) as exc:
            reason = f"{self.current}: {exc}"
            return self._fail(entry, release, target, active, switched_after, started, reason)
        if active and not self.config.deploy.keep_previous_warm:
            self.step(f"draining and stopping {active.slot}")
            slots.stop(self.config, self.place(active.slot))
        self.records.finish(entry, "success")
        self.step(f"{release.id} serves from {target}")
        return DeployResult(
            "success", release.id, target, None, switched_after, time.monotonic() - started,
            switch_seconds,
        )  # fmt: skip

    def _install(self, place: SlotPlace, release: Release) -> Path | None:
        """Install into the idle slot, unless it holds this release already (a quick re-deploy)."""
        idle = self.records.slots().get(place.name)
        if idle is not None and idle.release_id == release.id and place.python.exists():
            self.step(f"{release.id} is already installed in {place.name}")
            return _web_root(idle)
        self.step(f"installing {release.id} into {place.name}")
        self.records.uninstalled(place.name)
        web = slots.install(self.config, place, release)
        self.records.installed(place.name, release, str(web) if web else None)
        return web

    def _start_and_gate(self, place: SlotPlace) -> None:
        self.step(f"starting {place.name} on port {place.port}")
        slots.start(self.config, place)
        self.step("waiting for /ready")
        wait_ready(place.url(), self.config.deploy.ready_timeout)
        self.step("smoke requests")
        smoke(place.url(), self.config.deploy.smoke)

    def _fail(
        self,
        entry: int,
        release: Release,
        target: Slot,
        active: SlotRecord | None,
        switched_after: float | None,
        started: float,
        reason: str,
    ) -> DeployResult:
        outcome: Literal["rolled_back", "failed"] = "failed"
        if switched_after is not None and active is not None:
            self.step(f"switching back to {active.slot}: {reason}")
            back = self.place(active.slot)
            slots.start(self.config, back)  # a no-op while it is still warm
            switch_to(self.config, back, _web_root(active), self.place(target))
            self.records.activate(active.slot)
            outcome = "rolled_back"
        elif switched_after is not None:
            self.records.activate(None)
        slots.stop(self.config, self.place(target))
        self.records.finish(entry, outcome, reason)
        log.warning("deploy failed", release=release.id, outcome=outcome, reason=reason)
        return DeployResult(
            outcome, release.id, target, reason, switched_after, time.monotonic() - started
        )

    def rollback(self, *, actor: str) -> DeployResult:
        """Give traffic back to the previous release, still installed in the idle slot."""
        with deploy_lock(self.config):
            started = time.monotonic()
            installed = self.records.slots()
            active = self.records.active()
            previous = installed.get(other(active.slot)) if active else None
            if active is None or previous is None:
                raise NothingToRollBack(
                    "there is no previous release to roll back to",
                    "deploy a release first; `gristops deploy history` shows what ran",
                )
            entry = self.records.begin(
                "rollback",
                release_id=previous.release_id,
                version=previous.version,
                previous_id=active.release_id,
                slot=previous.slot,
                actor=actor,
                commit_time=previous.commit_time,
            )
            place = self.place(previous.slot)
            try:
                self._start_and_gate(place)
                self.step(f"switching traffic to {previous.slot}")
                switching = time.monotonic()
                switch_to(self.config, place, _web_root(previous), self.place(active.slot))
                switch_seconds = time.monotonic() - switching
                self.records.activate(previous.slot)
                self.records.switched(entry)
                switched_after = time.monotonic() - started
                verify_edge(self.config)
            except (GateFailed, GristopsError, httpx.HTTPError, OSError) as exc:
                self.records.finish(entry, "failed", str(exc))
                return DeployResult(
                    "failed", previous.release_id, previous.slot, str(exc), None,
                    time.monotonic() - started,
                )  # fmt: skip
            self.records.mark_reverted(active.release_id)
            self.records.finish(entry, "success")
            if not self.config.deploy.keep_previous_warm:
                slots.stop(self.config, self.place(active.slot))
            return DeployResult(
                "success", previous.release_id, previous.slot, None, switched_after,
                time.monotonic() - started, switch_seconds,
            )  # fmt: skip
