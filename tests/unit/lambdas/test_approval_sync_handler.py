from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import lambdas.approval_sync.handler as approval_sync
from safedeploy.trust.approval_record import RecordStore
from testbed.evidence import ensure_bucket, register_evidenced
from testbed.lambda_fakes import (
    APPROVER,
    EXECUTION_ID,
    GROUP,
    PIPELINE,
    SESSION,
    LambdaContext,
    MotoRegistry,
    approval_run,
    expect_action_executions,
    expect_failure,
    expect_success,
    job_event,
    moto_sagemaker,
    stubbed,
    train_run,
    wire_handler,
)

BUCKET = "demo-dev-artifacts"


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_sagemaker(monkeypatch) as client:
        ensure_bucket(SESSION.client("s3"), BUCKET)
        key_arn = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
        for name, value in {"RECORDS_BUCKET": BUCKET, "RECORDS_KEY_ARN": key_arn, "MODEL_PACKAGE_GROUP": GROUP}.items():
            monkeypatch.setenv(name, value)
        yield client


def evidenced(sagemaker: Any) -> str:
    return register_evidenced(sagemaker, SESSION.client("s3"), bucket=BUCKET, group=GROUP)


def record_of(package: str) -> Any:
    return RecordStore(SESSION.client("s3"), BUCKET).read(package, "model")


def parameters(package_arn: str) -> dict[str, str]:
    return {"model_package_arn": package_arn, "pipeline_execution_id": EXECUTION_ID}


def state_change(state: str) -> dict[str, Any]:
    detail = {"pipeline": PIPELINE, "execution-id": EXECUTION_ID, "stage": "Approval", "action": "Approval"}
    return {
        "detail-type": "CodePipeline Action Execution State Change",
        "source": "aws.codepipeline",
        "detail": {**detail, "state": state, "type": {"category": "Approval", "provider": "Manual"}},
    }


def test_an_approval_job_marks_the_package_approved(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker)
    codepipeline = stubbed("codepipeline")
    runs = [train_run(package), approval_run("Succeeded", comment="good")]
    expect_action_executions(codepipeline, runs)
    expect_action_executions(codepipeline, runs)
    expect_success(codepipeline)
    wire_handler(monkeypatch, approval_sync, registry, codepipeline=codepipeline.client)

    with codepipeline.stubber:
        outcome = approval_sync.handler(job_event(parameters(package)), LambdaContext())

    assert outcome["succeeded"]
    assert registry.approval_status(sagemaker, package) == "Approved"
    assert f"Approved by {APPROVER}" in codepipeline.reported_message()
    assert record_of(package).approver == APPROVER


def test_a_direct_invocation_naming_another_package_records_nothing(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    registry = MotoRegistry()
    reviewed, never_reviewed = evidenced(sagemaker), evidenced(sagemaker)
    codepipeline = stubbed("codepipeline")
    expect_action_executions(codepipeline, [train_run(reviewed), approval_run("Succeeded")])
    expect_failure(codepipeline)
    wire_handler(monkeypatch, approval_sync, registry, codepipeline=codepipeline.client)

    with codepipeline.stubber:
        outcome = approval_sync.handler(job_event(parameters(never_reviewed)), LambdaContext())

    assert not outcome["succeeded"]
    assert codepipeline.reported_message() == (
        f"{never_reviewed} is not the model package execution {EXECUTION_ID} registered ({reviewed}); "
        "no approval was recorded"
    )
    assert record_of(never_reviewed) is None
    assert registry.approval_status(sagemaker, never_reviewed) == "PendingManualApproval"


def test_no_approver_fails_the_job_and_leaves_the_package_untouched(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker)
    codepipeline = stubbed("codepipeline")
    runs = [train_run(package), approval_run("Succeeded", updated_by=None)]
    expect_action_executions(codepipeline, runs)
    expect_action_executions(codepipeline, runs)
    expect_failure(codepipeline)
    wire_handler(monkeypatch, approval_sync, registry, codepipeline=codepipeline.client)

    with codepipeline.stubber:
        outcome = approval_sync.handler(job_event(parameters(package)), LambdaContext())

    assert not outcome["succeeded"]
    assert "no approving person recorded" in codepipeline.reported_message()
    assert registry.approvals == []
    assert registry.approval_status(sagemaker, package) == "PendingManualApproval"


def test_a_job_missing_the_execution_id_says_so(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    codepipeline = stubbed("codepipeline")
    expect_failure(codepipeline)
    wire_handler(monkeypatch, approval_sync, MotoRegistry(), codepipeline=codepipeline.client)
    incomplete = {key: value for key, value in parameters("arn:x").items() if key != "pipeline_execution_id"}

    with codepipeline.stubber:
        approval_sync.handler(job_event(incomplete), LambdaContext())

    assert codepipeline.reported_message() == "UserParameters.pipeline_execution_id is missing or empty"


def test_a_rejection_event_marks_the_package_rejected(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker)
    codepipeline = stubbed("codepipeline")
    runs = [train_run(package), approval_run("Failed", comment="f1 too low")]
    for _ in range(3):
        expect_action_executions(codepipeline, runs)
    wire_handler(monkeypatch, approval_sync, registry, codepipeline=codepipeline.client)

    with codepipeline.stubber:
        result = approval_sync.handler(state_change("FAILED"), LambdaContext())

    assert result["synchronised"]
    assert registry.approval_status(sagemaker, package) == "Rejected"
    assert registry.approvals[0][2].endswith(": f1 too low")
    assert record_of(package).result == "Rejected"
    assert not [name for name, _ in codepipeline.sent if name.startswith("PutJob")]


def test_an_expired_approval_event_changes_nothing(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker)
    codepipeline = stubbed("codepipeline")
    runs = [train_run(package), approval_run("Failed", updated_by=None)]
    for _ in range(3):
        expect_action_executions(codepipeline, runs)
    wire_handler(monkeypatch, approval_sync, registry, codepipeline=codepipeline.client)

    with codepipeline.stubber:
        result = approval_sync.handler(state_change("FAILED"), LambdaContext())

    assert not result["synchronised"]
    assert registry.approval_status(sagemaker, package) == "PendingManualApproval"
