"""`gristops loadtest` exit codes and outputs, judged from saved results (no load is sent)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gristops.cli.main import main
from gristops.loadtest.plan import parse_plan
from tests.gateway_harness import free_port
from tests.unit.loadtest.sample_result import sample_result
from tests.unit.loadtest.test_plan import MINIMAL

PLAN = (
    MINIMAL
    + """\
  login: {kind: login}
thresholds:
  overall: {p95_ms: 500, error_rate: 0.01}
  scenarios:
    login: {p95_ms: 1500}
"""
)


def gristops(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             *args: str) -> tuple[int, str, str]:  # fmt: skip
    """The CLI as the console script runs it: exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["gristops", *args])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "good.json").write_text(sample_result(120).model_dump_json())
    (tmp_path / "slow.json").write_text(sample_result(900, failures=3).model_dump_json())
    return tmp_path


def test_check_and_print_default(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                 files: Path) -> None:  # fmt: skip
    code, out, _ = gristops(capsys, monkeypatch, "loadtest", str(files / "plan.yaml"), "--check")
    assert code == 0 and "valid; 2 scenarios, 1 stages over 5 s" in out
    code, out, _ = gristops(capsys, monkeypatch, "loadtest", "--print-default")
    assert code == 0 and parse_plan(out, "printed").seconds == 60


def test_a_bad_plan_or_baseline_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, files: Path
) -> None:
    (files / "bad.yaml").write_text(PLAN.replace("users: 2", "users: many"))
    code, _, err = gristops(capsys, monkeypatch, "loadtest", str(files / "bad.yaml"), "--check")
    assert code == 2
    assert err.splitlines()[0].startswith(
        f"error: {files / 'bad.yaml'}: stages.0.users: Input should be a valid integer"
    )
    (files / "junk.json").write_text('{"format": 1}')
    code, _, err = gristops(capsys, monkeypatch, "loadtest", str(files / "plan.yaml"),
                            "--baseline", str(files / "junk.json"))  # fmt: skip
    assert code == 2 and "junk.json: not a gristops loadtest result: target: Field required" in err
    code, _, err = gristops(capsys, monkeypatch, "loadtest", "--bogus")
    assert code == 2 and "No such option" in err


def test_a_passing_result_exits_0_with_json_and_a_report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, files: Path
) -> None:
    code, out, _ = gristops(capsys, monkeypatch, "loadtest", str(files / "plan.yaml"),
                            "--from-result", str(files / "good.json"), "--json",
                            "--out", str(files / "out.json"), "--html", str(files / "r.html"))  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["passed"] is True and len(result["checks"]) == 3
    assert json.loads((files / "out.json").read_text()) == result
    report = (files / "r.html").read_text()
    assert 'class="verdict passed">passed' in report and report.count("<svg") == 2


def test_failing_thresholds_exit_1_and_list_each_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, files: Path
) -> None:
    code, out, err = gristops(capsys, monkeypatch, "loadtest", str(files / "plan.yaml"),
                              "--from-result", str(files / "slow.json"),
                              "--html", str(files / "r.html"))  # fmt: skip
    assert code == 1
    assert "FAIL overall p95_ms 900 (at most 500)" in out and "pass login p95_ms 400" in out
    assert err.splitlines()[:3] == [
        "error: 2 of 3 checks failed:",
        "  overall p95_ms 900 (at most 500)",
        "  overall error_rate 0.03 (at most 0.01)",
    ]
    report = (files / "r.html").read_text()
    assert 'class="verdict failed">failed' in report
    assert "HTTPError(&#x27;503 &lt;script&gt;&#x27;)" in report  # errors are escaped


def test_a_p95_regression_against_the_baseline_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, files: Path
) -> None:
    (files / "worse.json").write_text(sample_result(150).model_dump_json())
    args = ("loadtest", str(files / "plan.yaml"), "--from-result", str(files / "worse.json"),
            "--baseline", str(files / "good.json"))  # fmt: skip
    code, _, err = gristops(capsys, monkeypatch, *args)
    assert code == 1
    assert "overall p95 150.0 ms vs baseline 120.0 ms (+25 %, limit 144.0 ms)" in err
    code, _, _ = gristops(capsys, monkeypatch, *args, "--max-regression", "30")
    assert code == 0


def test_a_run_needs_the_password_and_a_target_that_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, files: Path
) -> None:
    plan = str(files / "plan.yaml")
    monkeypatch.delenv("GRISTOPS_LOADTEST_PASSWORD", raising=False)
    code, _, err = gristops(capsys, monkeypatch, "loadtest", plan, "--url", "http://127.0.0.1:9")
    assert code == 2 and "environment variable GRISTOPS_LOADTEST_PASSWORD is not set" in err
    monkeypatch.setenv("GRISTOPS_LOADTEST_PASSWORD", "x")
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = gristops(capsys, monkeypatch, "loadtest", plan, "--url", url)
    assert code == 1 and f"error: {url} does not answer" in err
    code, _, err = gristops(capsys, monkeypatch, "loadtest", plan, "--url", "ftp://x")
    assert code == 2 and "not an http:// or https:// URL" in err
    code, _, err = gristops(capsys, monkeypatch, "loadtest", plan, "-c", str(files / "none.yaml"))
    assert code == 2 and "no such config file" in err
