"""Operations data on the status page: read from the state DB, missing tables mean "no data yet"."""

from __future__ import annotations

import time
from pathlib import Path

from gristops.config import Config
from gristops.gateway.status.data import ops_components
from gristops.gateway.status.ops import ops_data
from gristops.state.db import StateDB

NOW = time.time()


def config(tmp_path: Path) -> Config:
    return Config.model_validate({"data_dir": str(tmp_path), "grist": {"document_id": "Shop"}})


def by_name(components: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in components}


def test_a_fresh_install_shows_no_data_for_every_operation(
    tmp_path: Path, state_location: Path | str
) -> None:
    cfg = config(tmp_path)
    state = StateDB(state_location)
    ops = ops_data(cfg, state, NOW)
    statuses = {c["status"] for c in ops_components(cfg, ops, NOW)}
    assert statuses == {"no data"}


def test_tables_that_do_not_exist_yet_are_no_data_not_an_error(
    tmp_path: Path, state_location: Path | str
) -> None:
    cfg = config(tmp_path)
    state = StateDB(state_location)
    with state.transaction() as conn:
        for table in ("backup_runs", "deploy_history", "agent_runs"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    ops = ops_data(cfg, state, NOW)
    assert ops["backup"] == {"last": None, "last_success_at": None, "drill": None}
    assert ops["deploys"] == [] and ops["jobs"] == []


def test_backups_drills_deploys_and_jobs_show_their_latest_outcome(
    tmp_path: Path, state_location: Path | str
) -> None:
    cfg = config(tmp_path)
    state = StateDB(state_location)
    with state.transaction() as conn:
        conn.executemany(
            "INSERT INTO backup_runs (action, target, started_at, finished_at, ok, detail)"
            " VALUES (?, 'local', ?, ?, ?, ?)",
            [
                ("run", NOW - 7200, NOW - 7190, 1, None),
                ("run", NOW - 600, NOW - 590, 0, "disk full"),
                ("drill", NOW - 3600, NOW - 3558, 1, None),
            ],
        )
        conn.execute(
            "INSERT INTO deploy_history (kind, release_id, version, slot, actor, started_at,"
            " finished_at, outcome, reason) VALUES ('deploy', 'r2', '1.4.0', 'green', 'ci', ?, ?,"
            " 'rolled_back', 'p95 over budget')",
            (NOW - 300, NOW - 250),
        )
        conn.executemany(
            "INSERT INTO agent_runs (job, command, started_at, finished_at, outcome, exit_code)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("backup", "backup run", NOW - 900, NOW - 880, "success", 0),
                ("renew", "edge renew", NOW - 800, NOW - 790, "failed", 1),
            ],
        )
    ops = ops_data(cfg, state, NOW)
    components = by_name(ops_components(cfg, ops, NOW))
    assert components["backup"]["status"] == "warning"  # the last run failed
    assert "the last run failed" in components["backup"]["detail"]
    assert components["restore drill"]["status"] == "ok"
    assert "RTO 42 s" in components["restore drill"]["detail"]
    assert components["deploy"]["status"] == "warning"
    assert "1.4.0" in components["deploy"]["detail"]
    assert components["scheduled jobs"]["status"] == "warning"
    assert "renew" in components["scheduled jobs"]["detail"]
    assert ops["deploys"][0]["reason"] == "p95 over budget"
    assert {j["job"]: j["outcome"] for j in ops["jobs"]} == {"backup": "success", "renew": "failed"}


def test_a_backup_older_than_the_rpo_is_a_warning(
    tmp_path: Path, state_location: Path | str
) -> None:
    cfg = config(tmp_path)
    state = StateDB(state_location)
    old = NOW - cfg.observe.rpo_seconds - 3600
    with state.transaction() as conn:
        conn.execute(
            "INSERT INTO backup_runs (action, started_at, finished_at, ok) VALUES ('run', ?, ?, 1)",
            (old - 10, old),
        )
    components = by_name(ops_components(cfg, ops_data(cfg, state, NOW), NOW))
    assert components["backup"]["status"] == "warning"


def test_the_last_gitops_pass_and_a_bad_head_show(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    state = StateDB(cfg.state_path)
    with state.transaction() as conn:
        conn.executemany(
            "INSERT INTO gitops_runs (started_at, finished_at, trigger, head_sha, commit_sha,"
            " outcome, bad, reason) VALUES (?, ?, 'poll', ?, ?, ?, ?, ?)",
            [
                (NOW - 300, NOW - 290, "a" * 40, "a" * 40, "applied", 0, None),
                (NOW - 200, NOW - 150, "b" * 40, "b" * 40, "rolled_back", 1, "error rate"),
                (NOW - 60, NOW - 59, "b" * 40, "a" * 40, "in_sync", 0, None),
            ],
        )
    ops = ops_data(cfg, state, NOW)
    gitops = by_name(ops_components(cfg, ops, NOW))["gitops"]
    assert gitops["status"] == "warning"
    assert gitops["detail"].startswith("in sync aaaaaaaaaaaa")
    assert "head is marked bad" in gitops["detail"]
    assert ops["gitops"]["applied_commit"] == "a" * 40
