"""`gristops chaos list` and the errors of `gristops chaos run` before any fault is injected."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gristops.chaos.actions import _deploy_result
from gristops.cli.main import app
from gristops.errors import GristopsError

runner = CliRunner()


def refusal(args: list[str]) -> str:
    """The GristopsError `gristops ARGS` ends with (main() prints it as error + hint)."""
    done = runner.invoke(app, args)
    assert isinstance(done.exception, GristopsError), done.output
    return f"{done.exception.message} {done.exception.hint}"


def test_list_names_every_packaged_experiment() -> None:
    done = runner.invoke(app, ["chaos", "list", "--json"])
    assert done.exit_code == 0
    names = [e["name"] for e in json.loads(done.stdout)]
    assert names == [
        "cpu-stress", "disk-full", "grist-hangs", "grist-killed", "grist-slow",
        "slot-killed-in-watch",
    ]  # fmt: skip


def test_run_without_its_target_says_which_variable_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GRISTOPS_CHAOS_EMAIL", raising=False)
    said = refusal(["chaos", "run", "cpu-stress", "--short"])
    assert "GRISTOPS_CHAOS_EMAIL" in said
    assert "--var" in said


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nope"], "no chaos experiment named 'nope'"), (["cpu-stress", "--var", "x"], "KEY=VALUE")],
)
def test_run_refuses_unknown_names_and_malformed_variables(args: list[str], message: str) -> None:
    assert message in refusal(["chaos", "run", *args])


def test_the_deploy_result_is_found_after_its_log_lines() -> None:
    printed = '{"event": "deploy step"}\n{\n  "outcome": "rolled_back",\n  "slot": "green"\n}\n'
    assert _deploy_result(printed) == {"outcome": "rolled_back", "slot": "green"}
    assert _deploy_result("error: no such release\n") is None
