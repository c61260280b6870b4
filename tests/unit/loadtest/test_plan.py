"""The load-test plan: validation in one line, durations, the password, the k6-style stage shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gristops.errors import ConfigError
from gristops.loadtest.plan import (
    Stage,
    default_plan_text,
    load_plan,
    parse_plan,
    users_at,
)

MINIMAL = """\
document: Shop
login: {email: a@example.com}
stages: [{duration: 5s, users: 2}]
scenarios:
  read: {kind: record, table: Products, ids: [1]}
"""


def bad(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_plan(text, "plan.yaml")
    assert "\n" not in info.value.message  # one line, whatever the problem
    return info.value


def test_the_shipped_plan_is_valid_and_reads_writes_and_logs_in() -> None:
    plan = load_plan(None)
    kinds = {scenario.kind for scenario in plan.scenarios.values()}
    assert kinds == {"login", "refresh", "list", "record", "create", "update"}
    assert plan.seconds == 60
    assert plan.writes() == ["create_order", "update_stock"]
    assert plan.thresholds.overall.p95_ms == 500 and plan.thresholds.overall.error_rate == 0.01
    assert "document: Shop" in default_plan_text()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("duration: 5s", "duration: soon"), "plan.yaml: stages.0.duration: not a duration"),
        (
            ("users: 2", "users: -1"),
            "plan.yaml: stages.0.users: Input should be greater than or equal to 0",
        ),
        (
            ("users: 2", "users: 0"),
            "plan.yaml: (top level): stages: at least one stage needs users",
        ),
        (("table: Products", "tabel: Products"), "plan.yaml: scenarios.read.tabel: unknown key"),
        (("kind: record", "kind: delete"), "plan.yaml: scenarios.read: Input tag 'delete'"),
        (
            ("ids: [1]", "ids: []"),
            "plan.yaml: scenarios.read.ids: Tuple should have at least 1 item",
        ),
        (("read:", "Read:"), "plan.yaml: scenarios.Read.[key]: String should match pattern"),
        (("document: Shop", "document: ../x"), "plan.yaml: document: String should match pattern"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_file_and_the_field(
    change: tuple[str, str], where: str
) -> None:
    assert bad(MINIMAL.replace(*change)).message.startswith(where)


def test_several_problems_are_counted_and_yaml_errors_give_the_line() -> None:
    error = bad(MINIMAL.replace("users: 2", "users: x").replace("ids: [1]", "ids: [0]"))
    assert re.search(r"stages.0.users: .* \(and \d+ more\)$", error.message)
    assert bad("document: [\n").message.startswith("plan.yaml: line 2: not valid YAML")
    assert bad("- a list\n").message == "plan.yaml: not a load-test plan (a mapping of keys)"
    assert "think_time: must be [min, max]" in bad(MINIMAL + "think_time: [2, 1]\n").message


def test_thresholds_must_name_scenarios_of_the_plan() -> None:
    error = bad(MINIMAL + "thresholds: {scenarios: {login: {p95_ms: 100}}}\n")
    assert "thresholds.scenarios: login is not a scenario (scenarios: read)" in error.message


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the load-test plan"):
        load_plan(tmp_path / "none.yaml")


def test_the_password_comes_from_the_environment_or_a_file_beside_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = parse_plan(MINIMAL, "plan.yaml")
    monkeypatch.delenv("GRISTOPS_LOADTEST_PASSWORD", raising=False)
    with pytest.raises(
        ConfigError, match="environment variable GRISTOPS_LOADTEST_PASSWORD is not set"
    ):
        plan.login.password()
    monkeypatch.setenv("GRISTOPS_LOADTEST_PASSWORD", "from-env")
    assert plan.login.password() == "from-env"
    (tmp_path / "secret").write_text("from-file\n")
    path = tmp_path / "plan.yaml"
    path.write_text(
        MINIMAL.replace("{email: a@example.com}", "{email: a@example.com, password_file: secret}")
    )
    assert load_plan(path).login.password() == "from-file"
    (tmp_path / "secret").unlink()
    with pytest.raises(ConfigError, match=r"login\.password_file: cannot read"):
        load_plan(path).login.password()


def test_stages_ramp_linearly_hold_and_end() -> None:
    stages = (
        Stage(duration=10, users=10),
        Stage(duration=10, users=10),
        Stage(duration=5, users=0),
    )
    assert [users_at(stages, t) for t in (0, 5, 9.9, 10, 19, 20, 22.5, 24.9)] == [
        0,
        5,
        10,
        10,
        10,
        10,
        5,
        0,
    ]
    assert users_at(stages, 25) is None
    assert users_at((Stage(duration=4, users=8), Stage(duration=4, users=2)), 6) == 5
