"""`gristops backup` as a user runs it: JSON output, a failing target, verify and restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.backup_support import cli, cli_json, grow, install

pytestmark = pytest.mark.integration

ENCRYPTED = "backup: {encryption: {passphrase: '${GRISTOPS_BACKUP_PASSPHRASE}'}}\n"


def test_run_list_verify_restore_drill_prune(tmp_path: Path) -> None:
    config = install(tmp_path, ENCRYPTED)
    first = cli_json(config, "run")
    assert first["ok"] and first["targets"][0]["target"] == "local"
    cli_json(config, "run")
    listing = cli_json(config, "list")
    assert listing[0]["id"] == first["snapshot"]
    assert all(r["targets"] == ["local"] for r in listing)
    verified = cli_json(config, "verify", "--all")
    assert [v["ok"] for v in verified] == [True, True]
    restored = cli_json(config, "restore", first["snapshot"], "--to", str(tmp_path / "out"))
    assert {f["path"] for f in restored["files"]} >= {"docs/Shop.grist", "state/state.db"}
    drill = cli_json(config, "drill")
    assert drill["ok"] and drill["records"] > 0
    pruned = cli_json(config, "prune", "--dry-run")
    assert pruned[0]["dry_run"] and pruned[0]["kept"]
    assert cli(config, "restore", "20200101T000000000Z-abcdef").returncode == 3


def test_restore_onto_live_data_asks_first(tmp_path: Path) -> None:
    config = install(tmp_path)
    cli_json(config, "run")
    doc = tmp_path / "data" / "docs" / "Shop.grist"
    grow(doc, 1)  # changed since the backup
    changed = doc.read_bytes()
    for answer in ("n\n", ""):  # a no, or no answer at all (stdin closed)
        refused = cli(config, "restore", "latest", stdin=answer)
        assert refused.returncode == 1
        assert "replace the live Shop.grist" in refused.stderr
        assert "restore cancelled" in refused.stderr and "--yes" in refused.stderr
        assert doc.read_bytes() == changed
    accepted = cli(config, "restore", "latest", stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert doc.read_bytes() != changed


def test_a_failing_target_does_not_stop_the_others(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the target directory should be")
    extra = (
        "backup:\n  targets:\n"
        "    good: {kind: local, path: backups}\n"
        f"    broken: {{kind: local, path: {blocker}/sub}}\n"
    )
    config = install(tmp_path, extra)
    result = cli(config, "run")
    assert result.returncode == 1
    failed = [ln for ln in result.stderr.splitlines() if "target broken" in ln]
    assert len(failed) == 1 and "broken" in failed[0]
    assert "good: ok" in result.stdout
    assert [r["targets"] for r in cli_json(config, "list")] == [["good"]]
