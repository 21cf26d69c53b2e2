from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.stub import ANY

from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.lambda_actions.pipeline_job import ActionFailed
from safedeploy.lambda_actions.promotion import PromotionRequest, ReleaseTarget, commit_release, run_promotion
from safedeploy.trust.approval_record import RecordStore
from safedeploy.trust.release_manifest import ReleaseManifest
from testbed.evidence import (
    COMMIT,
    approve,
    ensure_bucket,
    promotion_parameters,
    register_evidenced,
    write_record,
)
from testbed.lambda_fakes import (
    APPROVAL_ENVIRONMENT,
    APPROVER,
    EXECUTION_ID,
    GROUP,
    PROMOTER,
    SESSION,
    MotoRegistry,
    Stubbed,
    approval_run,
    expect_action_executions,
    stubbed,
)

TARGET = ReleaseTarget(repository="demo-prod", branch="main")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
METRICS = {"auc": 0.9, "accuracy": 0.85, "f1": 0.7}
APPROVED_RUNS = [
    approval_run("Succeeded", updated_by=APPROVER, stage="Approval", action="Approval"),
    approval_run("Succeeded", updated_by=PROMOTER, stage="PromoteApproval", action="PromoteApproval"),
]
BUCKET = "demo-dev-artifacts"
DIGEST = "ab" * 32


@pytest.fixture
def records(sagemaker: object) -> RecordStore:
    s3 = SESSION.client("s3")
    ensure_bucket(s3, BUCKET)
    return RecordStore(s3, BUCKET)


def approved_package(sagemaker: object, records: RecordStore, registry: MotoRegistry) -> str:
    package = register_evidenced(sagemaker, records.s3, bucket=BUCKET, group=GROUP)
    approve(sagemaker, records.s3, BUCKET, package, execution_id=EXECUTION_ID)
    registry.metrics[package] = dict(METRICS)
    return package


def request_for(package_arn: str) -> PromotionRequest:
    return PromotionRequest.from_parameters(promotion_parameters(package_arn), APPROVAL_ENVIRONMENT)


def expect_put_file(codecommit: Stubbed, parent: str | None) -> None:
    expected = {
        "repositoryName": "demo-prod",
        "branchName": "main",
        "filePath": "release.json",
        "fileContent": ANY,
        "commitMessage": ANY,
        "name": "safedeploy-promote",
    }
    if parent is not None:
        expected["parentCommitId"] = parent
    codecommit.stubber.add_response("put_file", {"commitId": "c2", "blobId": "b", "treeId": "t"}, expected)


def written_manifest(codecommit: Stubbed) -> dict:
    return json.loads(codecommit.last("PutFile")["fileContent"])


def promote(
    sagemaker: object,
    registry: MotoRegistry,
    package: str,
    codepipeline: Stubbed,
    codecommit: Stubbed,
    records: RecordStore,
) -> str:
    with codepipeline.stubber, codecommit.stubber:
        return run_promotion(
            codepipeline=codepipeline.client,
            codecommit=codecommit.client,
            sm=sagemaker,
            s3=None,
            registry=registry,
            marks=RolledBackMarks(records.s3, records.bucket),
            request=request_for(package),
            target=TARGET,
            now=NOW,
            records=records,
            group=GROUP,
        )


def test_an_approved_package_is_committed_as_release_json_on_the_branch_head(
    sagemaker: object, records: RecordStore
) -> None:
    registry = MotoRegistry()
    package = approved_package(sagemaker, records, registry)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_action_executions(codepipeline, APPROVED_RUNS)
    codecommit.stubber.add_response(
        "get_branch",
        {"branch": {"branchName": "main", "commitId": "c1"}},
        {"repositoryName": "demo-prod", "branchName": "main"},
    )
    expect_put_file(codecommit, parent="c1")

    message = promote(sagemaker, registry, package, codepipeline, codecommit, records)

    codecommit.stubber.assert_no_pending_responses()
    assert message == f"Promoted {package} to demo-prod@main in commit c2"
    evidence = records.read(package, "model").evidence  # type: ignore[union-attr]
    assert written_manifest(codecommit) == {
        "model_package_arn": package,
        "source_commit": COMMIT,
        "metrics": METRICS,
        "approved_by": APPROVER,
        "promoted_by": PROMOTER,
        "pipeline_execution_id": EXECUTION_ID,
        "promoted_at": "2026-01-02T03:04:05+00:00",
        "model_sha256": evidence.model_sha256,
        "evaluation_sha256": evidence.evaluation_sha256,
        "tooling_sha256": evidence.tooling_sha256,
        "schema_version": 2,
    }
    assert codecommit.last("PutFile")["commitMessage"] == (
        f"Promote {package} (accuracy 0.8500, auc 0.9000, f1 0.7000; commit {COMMIT[:12]}; approved by {APPROVER}, "
        f"promoted by {PROMOTER})"
    )
    promotion = records.read(package, "promotion")
    assert promotion is not None and (promotion.approver, promotion.result) == (PROMOTER, "Approved")


def test_the_first_release_into_an_empty_repository_has_no_parent_commit() -> None:
    codecommit = stubbed("codecommit")
    codecommit.stubber.add_client_error("get_branch", service_error_code="BranchDoesNotExistException")
    expect_put_file(codecommit, parent=None)
    manifest = ReleaseManifest(
        model_package_arn="arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/1",
        source_commit="0123abcd",
        metrics=METRICS,
        approved_by=APPROVER,
        promoted_by=PROMOTER,
        pipeline_execution_id=EXECUTION_ID,
        promoted_at=NOW.isoformat(),
        model_sha256=DIGEST,
        evaluation_sha256=DIGEST,
        tooling_sha256=DIGEST,
    )

    with codecommit.stubber:
        assert commit_release(codecommit.client, TARGET, manifest) == "c2"

    codecommit.stubber.assert_no_pending_responses()
    assert "parentCommitId" not in codecommit.last("PutFile")
    assert ReleaseManifest.from_json(codecommit.last("PutFile")["fileContent"].decode()) == manifest


def test_a_package_without_an_approval_record_is_never_promoted(sagemaker: object, records: RecordStore) -> None:
    """Registry status Approved (a build could have set it) is not an approval."""
    registry = MotoRegistry()
    package = register_evidenced(sagemaker, records.s3, bucket=BUCKET, group=GROUP, status="Approved")
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")

    with pytest.raises(ActionFailed, match=r"has no approval record \(s3://.*/model.json\); nothing was promoted"):
        promote(sagemaker, registry, package, codepipeline, codecommit, records)

    assert codecommit.sent == []


def test_a_rejected_package_is_never_promoted(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = register_evidenced(sagemaker, records.s3, bucket=BUCKET, group=GROUP)
    write_record(sagemaker, records.s3, BUCKET, package, execution_id=EXECUTION_ID, result="Rejected")
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")

    with pytest.raises(ActionFailed, match="has a Rejected approval record"):
        promote(sagemaker, registry, package, codepipeline, codecommit, records)

    assert codecommit.sent == []


def test_a_promotion_nobody_approved_writes_nothing(sagemaker: object, records: RecordStore) -> None:
    registry = MotoRegistry()
    package = approved_package(sagemaker, records, registry)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    unattended = [
        APPROVED_RUNS[0],
        approval_run("Succeeded", updated_by=None, stage="PromoteApproval", action="PromoteApproval"),
    ]
    expect_action_executions(codepipeline, unattended)

    with pytest.raises(ActionFailed, match=r"PromoteApproval/PromoteApproval .* no approving person recorded"):
        promote(sagemaker, registry, package, codepipeline, codecommit, records)

    assert codecommit.sent == [] and records.read(package, "promotion") is None


def test_the_release_target_comes_from_the_environment() -> None:
    assert ReleaseTarget.from_environment({"RELEASE_REPOSITORY": "demo-prod", "RELEASE_BRANCH": "main"}) == TARGET
    with pytest.raises(ValueError, match="environment variable RELEASE_BRANCH is not set"):
        ReleaseTarget.from_environment({"RELEASE_REPOSITORY": "demo-prod"})
