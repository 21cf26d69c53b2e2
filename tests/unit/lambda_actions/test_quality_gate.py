from __future__ import annotations

import json

import pytest

from safedeploy.lambda_actions.pipeline_job import ActionFailed
from safedeploy.lambda_actions.quality_gate import (
    THRESHOLDS_ENV,
    QualityPolicy,
    check_candidate,
    evaluate,
    resolve_policy,
    run_quality_gate,
)
from testbed.lambda_fakes import MotoRegistry

SETTINGS = {"min_auc": 0.75, "min_accuracy": 0.7, "min_f1": 0.6, "max_regression": 0.01}
POLICY = QualityPolicy.from_settings(SETTINGS)
GOOD = {"auc": 0.85, "accuracy": 0.8, "f1": 0.7}


def test_a_candidate_above_every_minimum_with_no_live_model_passes() -> None:
    assert evaluate(GOOD, None, POLICY) == []


def test_each_metric_below_its_minimum_is_its_own_violation() -> None:
    violations = evaluate({"auc": 0.70, "accuracy": 0.60, "f1": 0.50}, None, POLICY)

    assert violations == [
        "accuracy 0.6000 is below the minimum 0.7000",
        "auc 0.7000 is below the minimum 0.7500",
        "f1 0.5000 is below the minimum 0.6000",
    ]


def test_a_missing_or_non_finite_metric_is_a_violation_not_a_pass() -> None:
    violations = evaluate({"auc": 0.9, "accuracy": float("nan")}, None, POLICY)

    assert violations == [
        "accuracy is missing from the candidate's metrics",
        "f1 is missing from the candidate's metrics",
    ]


def test_a_drop_beyond_the_allowed_regression_is_a_violation_even_above_the_minimum() -> None:
    violations = evaluate({**GOOD, "auc": 0.83}, {**GOOD, "auc": 0.85}, POLICY)

    assert violations == ["auc 0.8300 is 0.0200 below the live model's 0.8500 (at most 0.0100 allowed)"]


def test_a_drop_of_exactly_the_allowed_regression_passes() -> None:
    assert evaluate({**GOOD, "auc": 0.79}, {**GOOD, "auc": 0.80}, POLICY) == []


def test_below_minimum_and_regressed_are_both_listed() -> None:
    violations = evaluate({**GOOD, "f1": 0.55}, {**GOOD, "f1": 0.65}, POLICY)

    assert violations == [
        "f1 0.5500 is below the minimum 0.6000",
        "f1 0.5500 is 0.1000 below the live model's 0.6500 (at most 0.0100 allowed)",
    ]


def test_a_metric_the_live_model_lacks_is_checked_against_the_minimum_only() -> None:
    assert evaluate(GOOD, {"auc": 0.85}, POLICY) == []


def test_a_regressors_metric_is_a_minimum_like_any_other() -> None:
    policy = QualityPolicy.from_settings({"min_r2": 0.6, "max_regression": 0.02})
    assert evaluate({"r2": 0.55}, {"r2": 0.56}, policy) == ["r2 0.5500 is below the minimum 0.6000"]
    assert evaluate({"r2": 0.61}, {"r2": 0.7}, policy) == [
        "r2 0.6100 is 0.0900 below the live model's 0.7000 (at most 0.0200 allowed)"
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_regression": 0.01}, "no minimum thresholds"),
        ({"min_auc": 0.7}, "max_regression is missing"),
        ({"min_auc": 0.7, "max_regression": 0.01, "auc": 0.7}, "unknown key 'auc'"),
        ({"min_auc": "0.7", "max_regression": 0.01}, "min_auc: '0.7' must be a number"),
        ({"min_auc": True, "max_regression": 0.01}, "min_auc: True must be a number"),
        ({"min_auc": 0.7, "max_regression": -0.1}, "max_regression: -0.1: Input should be greater than or equal to 0"),
        ({"min_auc": float("inf"), "max_regression": 0.1}, "min_auc: inf must be a number"),
        ([0.7], "must be a JSON object"),
    ],
)
def test_bad_threshold_settings_name_what_is_wrong(settings: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        QualityPolicy.from_settings(settings)  # type: ignore[arg-type]


def test_policy_comes_from_user_parameters_before_the_environment() -> None:
    environ = {THRESHOLDS_ENV: json.dumps({"min_auc": 0.5, "max_regression": 0.2})}

    policy = resolve_policy({"thresholds": SETTINGS}, environ)

    assert policy.minimums == {"auc": 0.75, "accuracy": 0.7, "f1": 0.6}
    assert policy.max_regression == 0.01


def test_policy_falls_back_to_the_environment() -> None:
    policy = resolve_policy({}, {THRESHOLDS_ENV: json.dumps({"min_auc": 0.5, "max_regression": 0.2})})

    assert policy == QualityPolicy(minimums={"auc": 0.5}, max_regression=0.2)


def test_no_thresholds_anywhere_is_an_error_not_an_open_gate() -> None:
    with pytest.raises(ValueError, match=f"pass UserParameters.thresholds or set {THRESHOLDS_ENV}"):
        resolve_policy({}, {})


def test_thresholds_env_that_is_not_json_is_named() -> None:
    with pytest.raises(ValueError, match=f"{THRESHOLDS_ENV} is not valid JSON"):
        resolve_policy({}, {THRESHOLDS_ENV: "min_auc=0.7"})


def test_the_live_model_is_the_latest_approved_package_of_the_candidates_group(sagemaker: object) -> None:
    registry = MotoRegistry()
    registry.register(sagemaker, "Approved", {**GOOD, "auc": 0.95})
    live = registry.register(sagemaker, "Approved", {**GOOD, "auc": 0.86})
    registry.register(sagemaker, "Rejected", {**GOOD, "auc": 0.99})
    candidate = registry.register(sagemaker, "PendingManualApproval", {**GOOD, "auc": 0.85})

    result = check_candidate(sagemaker, None, registry, candidate, POLICY)

    assert result.live_arn == live
    assert result.passed
    assert f"live model {live}: accuracy=0.8000, auc=0.8600, f1=0.7000" in result.report()


def test_a_candidate_that_is_already_approved_is_not_compared_with_itself(sagemaker: object) -> None:
    registry = MotoRegistry()
    candidate = registry.register(sagemaker, "Approved", GOOD)

    result = check_candidate(sagemaker, None, registry, candidate, POLICY)

    assert result.live_arn is None
    assert "live model: none approved yet, regression not checked" in result.report()


def test_the_gate_action_fails_with_every_violation_in_its_message(sagemaker: object) -> None:
    registry = MotoRegistry()
    registry.register(sagemaker, "Approved", {"auc": 0.9, "accuracy": 0.8, "f1": 0.7})
    candidate = registry.register(sagemaker, "PendingManualApproval", {"auc": 0.7, "accuracy": 0.8, "f1": 0.5})

    with pytest.raises(ActionFailed) as failure:
        run_quality_gate(sagemaker, None, registry, candidate, POLICY)

    message = str(failure.value)
    assert message.startswith(f"Quality gate failed with 4 violation(s) for {candidate}")
    for expected in (
        "- auc 0.7000 is below the minimum 0.7500",
        "- auc 0.7000 is 0.2000 below the live model's 0.9000",
        "- f1 0.5000 is below the minimum 0.6000",
        "- f1 0.5000 is 0.2000 below the live model's 0.7000",
    ):
        assert expected in message
