from __future__ import annotations

import pytest

from safedeploy.lambda_actions.approvals import (
    DESCRIPTION_LIMIT,
    ApprovalAction,
    approval_action_from_event,
    configured_approval,
    decision_from,
    package_arn_of_execution,
    run_approval_sync,
)
from safedeploy.lambda_actions.pipeline_job import ActionFailed
from safedeploy.trust.approval_record import RecordConflict, RecordStore
from safedeploy.trust.evidence import PackageEvidence
from testbed.evidence import ensure_bucket, register_evidenced
from testbed.lambda_fakes import (
    APPROVAL_ENVIRONMENT,
    APPROVER,
    EXECUTION_ID,
    GROUP,
    PIPELINE,
    SESSION,
    MotoRegistry,
    approval_run,
    expect_action_executions,
    stubbed,
    train_run,
)

ACTION = ApprovalAction(
    pipeline_name=PIPELINE, execution_id=EXECUTION_ID, stage_name="Approval", action_name="Approval"
)


def test_a_succeeded_approval_is_an_approval_by_the_person_who_clicked() -> None:
    decision = decision_from([approval_run("Succeeded", comment="metrics look right")], ACTION)

    assert (decision.status, decision.approver, decision.comment) == ("Approved", APPROVER, "metrics look right")
    assert decision.description() == (
        f"Approved by {APPROVER} in Approval/Approval of {PIPELINE} execution {EXECUTION_ID}: metrics look right"
    )


def test_a_failed_approval_is_a_rejection() -> None:
    assert decision_from([approval_run("Failed", comment="f1 too low")], ACTION).status == "Rejected"


def test_the_latest_run_of_the_action_decides() -> None:
    runs = [approval_run("Failed", minute=1), approval_run("Succeeded", minute=5), approval_run("Failed", minute=3)]

    assert decision_from(runs, ACTION).status == "Approved"


def test_runs_of_other_actions_and_executions_are_ignored() -> None:
    other_execution = {**approval_run("Succeeded"), "pipelineExecutionId": "another-execution"}
    runs = [approval_run("Succeeded", action="PromoteApproval"), other_execution]

    with pytest.raises(ActionFailed, match="has not run; the model package was left unchanged"):
        decision_from(runs, ACTION)


@pytest.mark.parametrize("updated_by", [None, "", "   "])
def test_a_decision_with_no_person_recorded_is_refused(updated_by: str | None) -> None:
    with pytest.raises(ActionFailed, match="no approving person recorded; the model package was left unchanged"):
        decision_from([approval_run("Succeeded", updated_by=updated_by)], ACTION)


@pytest.mark.parametrize("status", ["InProgress", "Abandoned"])
def test_an_undecided_approval_is_refused(status: str) -> None:
    with pytest.raises(ActionFailed, match=f"is {status}, not decided"):
        decision_from([approval_run(status)], ACTION)


def test_a_long_comment_is_clipped_to_the_registry_limit() -> None:
    description = decision_from([approval_run("Succeeded", comment="y" * 2000)], ACTION).description()

    assert len(description) == DESCRIPTION_LIMIT


def test_the_package_of_an_execution_is_the_train_actions_output_variable() -> None:
    codepipeline = stubbed("codepipeline")
    expect_action_executions(codepipeline, [train_run("arn:package/1"), approval_run("Failed")])
    with codepipeline.stubber:
        assert package_arn_of_execution(codepipeline.client, PIPELINE, EXECUTION_ID) == "arn:package/1"


@pytest.mark.parametrize(
    ("runs", "found"),
    [([approval_run("Failed")], "none"), ([train_run("arn:a"), train_run("arn:b")], "arn:a, arn:b")],
)
def test_an_execution_without_exactly_one_package_is_refused(runs: list, found: str) -> None:
    codepipeline = stubbed("codepipeline")
    expect_action_executions(codepipeline, runs)
    with codepipeline.stubber, pytest.raises(ActionFailed, match=f"exactly one MODEL_PACKAGE_ARN; found {found}"):
        package_arn_of_execution(codepipeline.client, PIPELINE, EXECUTION_ID)


BUCKET = "demo-dev-artifacts"


@pytest.fixture
def records(sagemaker: object) -> RecordStore:
    s3 = SESSION.client("s3")
    ensure_bucket(s3, BUCKET)
    return RecordStore(s3, BUCKET)


def evidenced(sagemaker: object, records: RecordStore, group: str = GROUP) -> str:
    return register_evidenced(sagemaker, records.s3, bucket=BUCKET, group=group)


def sync(sagemaker: object, records: RecordStore, package: str, runs: list, registry: MotoRegistry) -> str:
    codepipeline = stubbed("codepipeline")
    expect_action_executions(codepipeline, runs)
    expect_action_executions(codepipeline, runs)
    with codepipeline.stubber:
        return run_approval_sync(codepipeline.client, sagemaker, registry, ACTION, package, records, GROUP)


def test_a_package_served_from_outside_the_write_once_models_prefix_is_not_approved(
    sagemaker: object, records: RecordStore
) -> None:
    """Its artifact (here the pipeline's own mutable artifacts) could be swapped after the hash check, and SageMaker
    downloads it again whenever an instance starts."""
    registry = MotoRegistry()
    package = register_evidenced(sagemaker, records.s3, bucket=BUCKET, group=GROUP, model_prefix="pipelines/models")
    with pytest.raises(ActionFailed) as refused:
        sync(sagemaker, records, package, [train_run(package), approval_run("Succeeded")], registry)
    assert str(refused.value).startswith(f"model artifact s3://{BUCKET}/pipelines/models/")
    assert str(refused.value).endswith(
        f"is not under s3://{BUCKET}/models/, this environment's write-once prefix: bytes elsewhere can be replaced "
        "after they are verified and are downloaded again whenever an instance starts; no approval was recorded"
    )
    assert records.read(package, "model") is None and registry.approvals == []


def test_an_approval_is_recorded_then_shown_on_the_package(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, records)

    message = sync(
        sagemaker, records, package, [train_run(package), approval_run("Succeeded", comment="ship")], registry
    )

    described = sagemaker.describe_model_package(ModelPackageName=package)  # type: ignore[attr-defined]
    assert described["ModelApprovalStatus"] == "Approved"
    assert APPROVER in described["ApprovalDescription"] and EXECUTION_ID in described["ApprovalDescription"]
    record = records.read(package, "model")
    assert record is not None
    assert (record.result, record.approver, record.pipeline_execution_id) == ("Approved", APPROVER, EXECUTION_ID)
    assert record.approval_action == "Approval/Approval" and record.action_execution_id == "Approval-0"
    assert record.evidence == PackageEvidence.describe(sagemaker, package)
    assert message.startswith(f"{package} is now {described['ApprovalDescription']}")


def test_a_rejection_is_recorded_and_fails_the_action(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, records)

    with pytest.raises(ActionFailed, match=r"Rejected by .*latency regressed"):
        sync(
            sagemaker,
            records,
            package,
            [train_run(package), approval_run("Failed", comment="latency regressed")],
            registry,
        )

    assert registry.approval_status(sagemaker, package) == "Rejected"
    assert records.read(package, "model").result == "Rejected"  # type: ignore[union-attr]


def test_no_approver_leaves_the_package_untouched(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, records)

    with pytest.raises(ActionFailed, match="no approving person recorded"):
        sync(sagemaker, records, package, [train_run(package), approval_run("Succeeded", updated_by=None)], registry)

    assert registry.approvals == [] and records.read(package, "model") is None
    assert registry.approval_status(sagemaker, package) == "PendingManualApproval"


def test_a_package_the_execution_did_not_register_is_refused(sagemaker: object, records: RecordStore) -> None:
    """Invoking ApprovalSync directly with another package and a real, approved execution launders nothing."""
    registry = MotoRegistry()
    reviewed, never_reviewed = evidenced(sagemaker, records), evidenced(sagemaker, records)

    with pytest.raises(
        ActionFailed,
        match=f"{never_reviewed} is not the model package execution {EXECUTION_ID} "
        f"registered \\({reviewed}\\); no approval was recorded",
    ):
        sync(sagemaker, records, never_reviewed, [train_run(reviewed), approval_run("Succeeded")], registry)

    assert registry.approvals == [] and records.read(never_reviewed, "model") is None
    assert registry.approval_status(sagemaker, never_reviewed) == "PendingManualApproval"


def test_a_package_of_another_group_is_refused(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    foreign = evidenced(sagemaker, records, group="demo-other-models")

    with pytest.raises(ActionFailed, match="belongs to model package group demo-other-models, not demo-dev-models"):
        sync(sagemaker, records, foreign, [train_run(foreign), approval_run("Succeeded")], registry)

    assert records.read(foreign, "model") is None


def test_a_record_is_written_once(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, records)
    sync(sagemaker, records, package, [train_run(package), approval_run("Succeeded")], registry)
    again = sync(sagemaker, records, package, [train_run(package), approval_run("Succeeded")], registry)
    assert "is now Approved" in again

    with pytest.raises(RecordConflict, match=r"already records Approved by .*records are never replaced"):
        sync(sagemaker, records, package, [train_run(package), approval_run("Failed", minute=5)], registry)

    assert records.read(package, "model").result == "Approved"  # type: ignore[union-attr]


def test_the_approval_action_is_the_functions_configuration_and_the_jobs_execution() -> None:
    """UserParameters once named the stage and action: a direct invocation could make Promote read the model
    approval as the promotion approval. Names a caller sends now count for nothing."""
    parameters = {
        "pipeline_name": "another-pipeline",
        "pipeline_execution_id": EXECUTION_ID,
        "approval_stage": "PromoteApproval",
        "approval_action": "PromoteApproval",
    }

    assert configured_approval(APPROVAL_ENVIRONMENT, parameters, "APPROVAL") == ACTION
    promotion = configured_approval(APPROVAL_ENVIRONMENT, parameters, "PROMOTION_APPROVAL")
    assert (promotion.pipeline_name, promotion.stage_name) == (PIPELINE, "PromoteApproval")
    with pytest.raises(ValueError, match=r"^environment variable PIPELINE_NAME is not set$"):
        configured_approval({}, parameters, "APPROVAL")
    with pytest.raises(ValueError, match=r"UserParameters\.pipeline_execution_id is missing"):
        configured_approval(APPROVAL_ENVIRONMENT, {}, "APPROVAL")


def test_an_action_that_is_not_a_manual_approval_is_not_a_decision() -> None:
    """A non-approval action with `updatedBy` set was recorded as an approval."""
    run = approval_run("Succeeded") | {"input": {"actionTypeId": {"category": "Invoke", "provider": "Lambda"}}}
    with pytest.raises(ActionFailed, match=r"is Invoke/Lambda, not a Manual approval; the model package was left"):
        decision_from([run], ACTION)


def test_a_run_of_another_execution_is_not_this_executions_decision() -> None:
    run = {key: value for key, value in approval_run("Succeeded").items() if key != "pipelineExecutionId"}
    with pytest.raises(ActionFailed, match="has not run"):
        decision_from([run], ACTION)


def state_change(**detail: str) -> dict:
    return {"detail-type": "CodePipeline Action Execution State Change", "source": "aws.codepipeline", "detail": detail}


def test_the_approval_action_is_read_from_a_state_change_event() -> None:
    event = state_change(
        pipeline=PIPELINE, **{"execution-id": EXECUTION_ID}, stage="Approval", action="Approval", state="FAILED"
    )

    assert approval_action_from_event(event, APPROVAL_ENVIRONMENT) == ACTION


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail-type": "CodePipeline Pipeline Execution State Change"}, "expected a 'CodePipeline Action Execution"),
        (state_change(pipeline=PIPELINE, stage="Approval"), "has no execution-id, action in its detail"),
        (
            state_change(pipeline="other", **{"execution-id": EXECUTION_ID}, stage="Approval", action="Approval"),
            f"reports 'Approval'/'Approval' of 'other'; this function records Approval/Approval of {PIPELINE} only",
        ),
        (
            state_change(pipeline=PIPELINE, **{"execution-id": EXECUTION_ID}, stage="Deploy", action="Deploy"),
            "reports 'Deploy'/'Deploy' of",
        ),
    ],
)
def test_other_events_are_refused_by_name(event: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        approval_action_from_event(event, APPROVAL_ENVIRONMENT)
