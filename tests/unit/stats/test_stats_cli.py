"""`safedeploy plan / boundaries / analyze`: tables or JSON out, verdict exit codes, one-line errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safedeploy.cli import main
from safedeploy.environment_config import load_config
from safedeploy.guardrails.bake import bake_report
from safedeploy.stats import CanaryObservations, CanaryPolicy, MetricPolicy

Fleets = Callable[..., CanaryObservations]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    try:
        code = main([*argv, "--json"])
    except SystemExit as exit_:  # argparse usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_boundaries_prints_the_published_five_look_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = run(["boundaries", "--looks", "5", "--alpha", "0.05", "--spending", "obf"], capsys)
    assert code == 0
    assert document["boundaries"] == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=5e-4)
    assert document["cumulative_alpha"][-1] == pytest.approx(0.05)


def test_boundaries_accept_unequal_fractions(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = run(["boundaries", "--fractions", "0.1,0.33,1", "--spending", "obf"], capsys)
    assert code == 0
    assert document["boundaries"] == pytest.approx([6.9913, 3.7308, 1.9605], abs=5e-4)


def test_plan_prints_samples_and_bake_time(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "--kind", "mean", "--baseline", "120", "--sigma", "30", "--mde", "5",
            "--requests-per-minute", "1000", "--canary-share", "0.1"]  # fmt: skip
    code, document, _ = run(argv, capsys)
    assert code == 0
    plan = document["plan"]
    assert plan["bake_minutes"] == pytest.approx(plan["horizon_samples"] / 100)
    assert document["inputs"]["power"] == 0.9


def write_case(tmp_path: Path, observations: CanaryObservations, margin: float = 0.005) -> Path:
    policy = CanaryPolicy(
        {
            "error_rate": MetricPolicy(kind="proportion", harm="increase", margin=margin, horizon=6000),
            "latency_ms": MetricPolicy(kind="mean", harm="increase", margin=5.0, horizon=6000),
            "accuracy": MetricPolicy(kind="proportion", harm="decrease", margin=0.03, horizon=1800),
        }
    )
    path = tmp_path / "canary.json"
    path.write_text(json.dumps({"policy": policy.to_dict(), "observations": observations.to_dict()}))
    return path


@pytest.mark.parametrize(
    ("minutes", "truth", "decision", "exit_code"),
    [(75, {}, "PROMOTE", 0), (4, {}, "CONTINUE", 10), (75, {"error_rate": (0.01, 0.03)}, "ROLLBACK", 20)],
)
def test_analyze_exit_code_follows_the_verdict(
    fleets: Fleets,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    minutes: int,
    truth: dict[str, Any],
    decision: str,
    exit_code: int,
) -> None:
    code, verdict, _ = run(["analyze", str(write_case(tmp_path, fleets(minutes, seed=2, **truth)))], capsys)
    assert (code, verdict["decision"]) == (exit_code, decision)


def test_analyze_reads_standard_input(
    fleets: Fleets, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(write_case(tmp_path, fleets(4)).read_text()))
    assert run(["analyze", "-"], capsys)[0] == 10


@pytest.mark.parametrize(
    ("argv", "content", "message"),
    [
        (["analyze", "missing.json"], None, "safedeploy analyze: error: cannot read missing.json: No such file"),
        (["analyze", "{case}"], "{not json", "is not valid JSON: Expecting property name"),
        (["analyze", "{case}"], '{"policy": {}}', "is missing 'observations'"),
        (["analyze", "{case}"], '{"policy": {"metrics": {}}, "observations": {"metrics": {}}}',
         "policy.metrics is empty"),
        (["boundaries", "--looks", "x"], None,
         "safedeploy boundaries: error: argument --looks: must be a whole number from 1 to 60, got 'x'"),
        (["boundaries", "--looks", "0"], None, "argument --looks: must be a whole number from 1 to 60, got '0'"),
        (["boundaries", "--fractions", "0.5,a"], None, "--fractions must be comma-separated numbers"),
        (["plan", "--kind", "mean", "--baseline", "1", "--mde", "1", "--requests-per-minute", "10",
          "--canary-share", "0.1"], None, "sigma (per-request standard deviation) is required"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], content: str | None, message: str
) -> None:
    case = tmp_path / "case.json"
    if content is not None:
        case.write_text(content)
    code, _, err = run([item.replace("{case}", str(case)) for item in argv], capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_without_json_the_commands_print_tables(
    fleets: Fleets, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["boundaries", "--looks", "3", "--sides", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["alpha: 0.05", "spending: obf"]
    header, *rows = lines[3:]
    assert header.split() == ["#", "information", "fractions", "boundaries", "nominal", "p", "values", "cumulative",
                              "alpha"]  # fmt: skip
    assert [row.split()[:3] for row in rows] == [["1", "0.3333", "3.2"], ["2", "0.6667", "2.141"], ["3", "1", "1.695"]]
    rollback = write_case(tmp_path, fleets(75, seed=2, error_rate=(0.01, 0.03)))
    assert main(["analyze", str(rollback)]) == 20
    out = capsys.readouterr().out
    assert out.startswith("decision: ROLLBACK\n") and "\nmetrics:\n" in out and "error_rate" in out


def test_plan_env_prints_the_bake_synth_plans_from_cdk_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = {"strategy": "linear", "wait_interval_seconds": 900, "canary": {"require_power": False}}
    context = {"project": "team", "environments": {"dev": {"endpoint": endpoint}, "qa": {"endpoint": {}}},
               "model": {"train": "m.build:train", "sample_data": "m.data:sample",
                         "serving": {"framework": "sklearn", "framework_version": "1.9-0"},
                         "contract": {"features": ["x"], "health_check": [1]}, "metrics": {"auc": 0.5}}}  # fmt: skip
    (tmp_path / "cdk.json").write_text(json.dumps({"context": context}))
    monkeypatch.chdir(tmp_path)
    config = load_config(context)
    assert main(["plan", "--env", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == bake_report("dev", config.environments["dev"].endpoint)  # what synth prints
    assert out[1].startswith("warning: dev: canary.require_power is false")
    assert main(["plan", "--env", "qa", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["plan"]["bake_seconds"] == config.environments["qa"].endpoint.wait_interval_seconds
    assert main(["plan", "--env", "staging"]) == 2
    assert "--env 'staging' is not in cdk.json (dev, qa)" in capsys.readouterr().err
