"""Hostile input to every command: one line on stderr and a documented exit code, never a traceback or a run of
minutes. Found by probing: `plan --looks 1000000000` ran for minutes, extreme floats and deeply nested JSON ended in
tracebacks, and a negative or NaN `--poll-seconds` (or SAFEDEPLOY_POLL_SECONDS) failed only mid-run or at start-up;
the fuzzing below then found `analyze` documents with 400-digit integers or a list as `spending` ending in tracebacks.
The properties are bounded by the suite's hypothesis profile (tests/conftest.py: few examples, each with a deadline,
the same every run) and each runs well under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from safedeploy.cli import build_parser, main
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.cli.number_arguments import MAX_POLL_SECONDS
from safedeploy.operations.api_keys import MAX_KEY_LIFETIME_DAYS
from safedeploy.stats import CanaryObservations, CanaryPolicy, CountSeries, MetricObservations, MetricPolicy
from safedeploy.stats.boundaries import MAX_LOOKS

ENVIRONMENT = ["--project", "p", "--env", "dev"]
PLAN = ["plan", "--kind", "proportion", "--baseline", "0.01", "--mde", "0.01", "--requests-per-minute", "100",
        "--canary-share", "0.1", "--json"]  # fmt: skip
# Numbers as text a caller can type: huge, tiny, negative, not finite, not numbers at all.
EXTREME_NUMBERS = ["nan", "-inf", "1e309", "-1e309", "1e-320", "-0", "", " ", "0x10", "1_0", "9" * 5000]
HOSTILE_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(EXTREME_NUMBERS),
    st.text(max_size=12),
)


def with_every_extreme(test: Callable[..., None]) -> Callable[..., None]:
    """Each of EXTREME_NUMBERS as an explicit example of a property over `value`."""
    for text in EXTREME_NUMBERS:
        test = example(value=text)(test)
    return test


def _not_a_long_plan(text: str) -> bool:
    """Plans of 6 to 60 looks are valid and take up to a second each: left out of the properties for time only."""
    digits = text.strip()
    return not (re.fullmatch("[0-9]{1,2}", digits) and 6 <= int(digits) <= MAX_LOOKS)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # usage errors
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_answered_or_refused_in_one_line(code: int, out: str, err: str, answers: set[int]) -> None:
    assert code in {int(exit_code) for exit_code in ExitCode}
    if code == ExitCode.BAD_INPUT:
        assert err.startswith("safedeploy ") and err.count("\n") == 1, err
    else:
        assert code in answers, (code, err)
        json.loads(out)


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


def parse_or_refuse(argv: list[str]) -> tuple[Any, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return _parser().parse_args(argv), ""
        except SystemExit as exit_:
            assert exit_.code == ExitCode.BAD_INPUT
    return None, err.getvalue()


@pytest.mark.parametrize(
    ("argv", "attribute", "low", "high"),
    [
        (["deploy", *ENVIRONMENT, "--package-arn", "arn", "--poll-seconds"], "poll_seconds", 0, MAX_POLL_SECONDS),
        (["rollback", *ENVIRONMENT, "--poll-seconds"], "poll_seconds", 0, MAX_POLL_SECONDS),
        (["teardown", *ENVIRONMENT, "--poll-seconds"], "poll_seconds", 0, MAX_POLL_SECONDS),
        (["api-key", "create", *ENVIRONMENT, "--name", "n", "--scope", "predict", "--expires-in-days"],
         "expires_in_days", 1, MAX_KEY_LIFETIME_DAYS),
        (["boundaries", "--looks"], "looks", 1, MAX_LOOKS),
        ([*PLAN, "--looks"], "looks", 1, MAX_LOOKS),
    ],
)  # fmt: skip
@with_every_extreme
@given(value=HOSTILE_NUMBERS)
def test_a_numeric_argument_is_in_range_or_refused_before_anything_runs(
    argv: list[str], attribute: str, low: float, high: float, value: str
) -> None:
    """Commands that call AWS are only parsed: whatever gets past the parser is a finite number in range. Parsing
    costs next to nothing, so every extreme is tried besides the random draws (which miss some of them)."""
    parsed, err = parse_or_refuse([*argv, value])
    if parsed is None:
        assert err.startswith("safedeploy ") and err.count("\n") == 1, err
    else:
        number = getattr(parsed, attribute)
        assert math.isfinite(number) and low <= number <= high


@given(
    option=st.sampled_from(
        ["--baseline", "--mde", "--requests-per-minute", "--canary-share", "--alpha", "--power", "--looks"]
    ),
    value=HOSTILE_NUMBERS.filter(_not_a_long_plan),
    kind=st.sampled_from(["proportion", "mean"]),
)
def test_plan_answers_or_refuses_any_number_in_one_line(option: str, value: str, kind: str) -> None:
    argv = [*PLAN, "--sigma", "30", option, value]
    argv[argv.index("--kind") + 1] = kind
    assert_answered_or_refused_in_one_line(*run(argv), answers={ExitCode.OK})


@given(
    looks=HOSTILE_NUMBERS.filter(_not_a_long_plan),
    fractions=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=80).map(
        lambda values: ",".join(map(repr, values))
    ),
    alpha=HOSTILE_NUMBERS,
    use_fractions=st.booleans(),
)
def test_boundaries_answer_or_refuse_any_input_in_one_line(
    looks: str, fractions: str, alpha: str, use_fractions: bool
) -> None:
    argv = [
        "boundaries",
        "--json",
        "--alpha",
        alpha,
        *(["--fractions", fractions] if use_fractions else ["--looks", looks]),
    ]
    assert_answered_or_refused_in_one_line(*run(argv), answers={ExitCode.OK})


def _case() -> dict[str, Any]:
    observations = CanaryObservations(
        {"error_rate": MetricObservations(CountSeries([9.0] * 5, [900.0] * 5), CountSeries([1.0] * 5, [100.0] * 5))}
    )
    policy = CanaryPolicy({"error_rate": MetricPolicy("proportion", "increase", 0.005, horizon=600, looks=3)})
    return {"policy": policy.to_dict(), "observations": observations.to_dict()}


def _places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in the document, containers and leaves alike."""
    places = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            places += _places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:2]):
            places += _places(value, (*path, index))
    return places


PLACES = _places(_case())[1:]
HOSTILE_JSON = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.floats(allow_nan=False), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _replace(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@given(path=st.sampled_from(PLACES), value=HOSTILE_JSON, depth=st.sampled_from([0, 0, 0, 50, 5000, 200_000]))
def test_analyze_answers_or_refuses_any_document_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], value: Any, depth: int
) -> None:
    text = json.dumps(_replace(_case(), path, "@"))
    text = text.replace('"@"', "[" * depth + json.dumps(value) + "]" * depth)
    case = tmp_path_factory.mktemp("analyze") / "case.json"
    case.write_text(text)
    answers = {ExitCode.OK, ExitCode.VERDICT_CONTINUE, ExitCode.VERDICT_ROLLBACK}
    assert_answered_or_refused_in_one_line(*run(["analyze", "--json", str(case)]), answers=answers)


@pytest.mark.timeout(60)  # before: minutes
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*PLAN, "--looks", "1000000000"], "argument --looks: must be a whole number from 1 to 60"),
        (["boundaries", "--looks", "100000000"], "argument --looks: must be a whole number from 1 to 60"),
        (["boundaries", "--fractions", ",".join(str(k / 1000) for k in range(1, 1001))], "gives 1000 looks"),
        (["plan", "--kind", "mean", "--baseline", "1e308", "--mde", "1e-308", "--sigma", "1e308",
          "--requests-per-minute", "100", "--canary-share", "0.5"], "beyond any count"),
        ([*PLAN, "--poll-seconds", "1"], "unrecognized arguments"),
        (["teardown", *ENVIRONMENT, "--poll-seconds", "nan"], "argument --poll-seconds: must be a number from 0"),
        (["deploy", *ENVIRONMENT, "--package-arn", "arn", "--poll-seconds", "-1"], "must be a number from 0"),
    ],
)  # fmt: skip
def test_what_once_hung_or_ended_in_a_traceback_is_one_line(argv: list[str], message: str) -> None:
    code, _, err = run(argv)
    assert (code, err.count("\n")) == (ExitCode.BAD_INPUT, 1), err
    assert message in err


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("policy", "metrics", "error_rate", "horizon"), 10**400, "horizon must be at most 1e+15"),
        (("policy", "metrics", "error_rate", "margin"), 10**400, "margin must be a positive number"),
        (("policy", "metrics", "error_rate", "spending"), ["obf"], "spending must be one of"),
        (("observations", "metrics", "error_rate", "baseline", "events", 0), 10**400, "must be a finite number"),
    ],
)
def test_what_the_fuzzing_found_in_analyze_is_one_line(
    tmp_path: Path, path: tuple[Any, ...], value: Any, message: str
) -> None:
    case = tmp_path / "case.json"
    case.write_text(json.dumps(_replace(_case(), path, value)))
    code, _, err = run(["analyze", str(case)])
    assert (code, err.count("\n")) == (ExitCode.BAD_INPUT, 1), err
    assert message in err and len(err) < 300


@pytest.mark.parametrize(
    "argv",
    [["analyze", "{file}"], ["cost", "--env", "dev", "--config", "{file}"],
     ["deploy", *ENVIRONMENT, "--release-file", "{file}", "--source-env", "dev"]],
)  # fmt: skip
def test_deeply_nested_json_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # deploy reads the file before its first AWS call
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    deep = tmp_path / "deep.json"
    deep.write_text('{"policy": {}, "observations": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, _, err = run([item.replace("{file}", str(deep)) for item in argv])
    assert (code, err) == (
        ExitCode.BAD_INPUT,
        f"safedeploy {argv[0]}: error: the input nests arrays or objects too deeply\n",
    )


def test_a_bad_poll_interval_in_the_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """It was read with float() while the parser was built: a traceback before any command ran."""
    monkeypatch.setenv("SAFEDEPLOY_POLL_SECONDS", "soon")
    code, _, err = run(["deploy", *ENVIRONMENT, "--package-arn", "arn"])
    assert (code, err) == (
        ExitCode.BAD_INPUT,
        "safedeploy deploy: error: argument --poll-seconds: must be a number from 0 to 3600, got 'soon'\n",
    )
