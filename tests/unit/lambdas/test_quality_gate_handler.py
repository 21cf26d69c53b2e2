from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import lambdas.quality_gate.handler as quality_gate
from testbed.lambda_fakes import (
    LambdaContext,
    MotoRegistry,
    expect_failure,
    expect_success,
    job_event,
    moto_sagemaker,
    stubbed,
    wire_handler,
)

PACKAGE_PREFIX = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models"
THRESHOLDS = {"min_auc": 0.75, "min_accuracy": 0.7, "min_f1": 0.6, "max_regression": 0.01}


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_sagemaker(monkeypatch) as client:
        yield client


def run_gate(monkeypatch: pytest.MonkeyPatch, registry: MotoRegistry, event: dict, *, succeeds: bool) -> str:
    codepipeline = stubbed("codepipeline")
    if succeeds:
        expect_success(codepipeline, variables=True)
    else:
        expect_failure(codepipeline)
    wire_handler(monkeypatch, quality_gate, registry, codepipeline=codepipeline.client)
    with codepipeline.stubber:
        outcome = quality_gate.handler(event, LambdaContext())
    codepipeline.stubber.assert_no_pending_responses()
    assert outcome["succeeded"] is succeeds
    return codepipeline.reported_message()


def test_a_good_candidate_passes_and_the_report_reaches_codepipeline(monkeypatch: pytest.MonkeyPatch, sagemaker: Any):
    registry = MotoRegistry()
    package = registry.register(sagemaker, "PendingManualApproval", {"auc": 0.9, "accuracy": 0.8, "f1": 0.7})

    reported = run_gate(
        monkeypatch, registry, job_event({"model_package_arn": package, "thresholds": THRESHOLDS}), succeeds=True
    )

    assert reported.startswith(f"Quality gate passed for {package}")


def test_violations_fail_the_action_with_every_one_listed(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = registry.register(sagemaker, "PendingManualApproval", {"auc": 0.6, "accuracy": 0.5, "f1": 0.7})

    reported = run_gate(
        monkeypatch, registry, job_event({"model_package_arn": package, "thresholds": THRESHOLDS}), succeeds=False
    )

    assert "- accuracy 0.5000 is below the minimum 0.7000" in reported
    assert "- auc 0.6000 is below the minimum 0.7500" in reported


def test_thresholds_come_from_the_environment_when_the_action_passes_none(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    monkeypatch.setenv("QUALITY_GATE_THRESHOLDS", json.dumps({"min_auc": 0.95, "max_regression": 0.0}))
    registry = MotoRegistry()
    package = registry.register(sagemaker, "PendingManualApproval", {"auc": 0.9})

    reported = run_gate(monkeypatch, registry, job_event({"model_package_arn": package}), succeeds=False)

    assert "auc 0.9000 is below the minimum 0.9500" in reported


@pytest.mark.parametrize(
    ("user_parameters", "message"),
    [
        ("not json", "UserParameters is not valid JSON"),
        ({"thresholds": THRESHOLDS}, "UserParameters.model_package_arn is missing or empty"),
        (
            {"model_package_arn": "arn:x", "thresholds": {"min_auc": 0.7}},
            "is not a versioned model package ARN: 'arn:x'",
        ),
        (
            {"model_package_arn": f"{PACKAGE_PREFIX}/1", "thresholds": {"min_auc": 0.7}},
            "max_regression is missing",
        ),
    ],
)
def test_a_malformed_job_is_reported_as_a_failure_that_says_why(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any, user_parameters: object, message: str
) -> None:
    assert message in run_gate(monkeypatch, MotoRegistry(), job_event(user_parameters), succeeds=False)


def test_an_aws_refusal_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    """A package that does not exist is bad input, not an "unexpected" failure."""
    package = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/404"

    reported = run_gate(
        monkeypatch, MotoRegistry(), job_event({"model_package_arn": package, "thresholds": THRESHOLDS}), succeeds=False
    )

    assert reported.startswith("AWS error: ") and "\n" not in reported


def test_a_package_arn_that_is_not_one_is_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    reported = run_gate(
        monkeypatch, MotoRegistry(), job_event({"model_package_arn": "[" * 10_000, "thresholds": THRESHOLDS}),
        succeeds=False,
    )  # fmt: skip

    assert reported == "UserParameters.model_package_arn is not a versioned model package ARN: '" + "[" * 100 + "…'"


def test_an_event_that_is_not_a_job_is_refused_without_calling_codepipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    codepipeline = stubbed("codepipeline")
    wire_handler(monkeypatch, quality_gate, MotoRegistry(), codepipeline=codepipeline.client)

    outcome = quality_gate.handler({"Records": []}, LambdaContext())

    assert outcome == {
        "job_id": "",
        "succeeded": False,
        "message": "not a CodePipeline job event: 'CodePipeline.job.id' is missing",
    }
    assert codepipeline.sent == []
