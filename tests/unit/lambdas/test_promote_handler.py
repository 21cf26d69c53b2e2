from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import lambdas.promote.handler as promote
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.trust.release_manifest import ReleaseManifest
from testbed.evidence import COMMIT, approve, ensure_bucket, promotion_parameters, register_evidenced
from testbed.lambda_fakes import (
    APPROVER,
    EXECUTION_ID,
    GROUP,
    PIPELINE,
    PROMOTER,
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
    wire_handler,
)

METRICS = {"auc": 0.9, "accuracy": 0.85, "f1": 0.7}
RUNS = [
    approval_run("Succeeded", updated_by=APPROVER),
    approval_run("Succeeded", updated_by=PROMOTER, stage="PromoteApproval", action="PromoteApproval"),
]


BUCKET = "demo-dev-artifacts"


def dev_marks() -> RolledBackMarks:
    return RolledBackMarks(SESSION.client("s3"), BUCKET)


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("RELEASE_REPOSITORY", "demo-prod")
    monkeypatch.setenv("RELEASE_BRANCH", "main")
    with moto_sagemaker(monkeypatch) as client:
        ensure_bucket(SESSION.client("s3"), BUCKET)
        key_arn = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
        for name, value in {"RECORDS_BUCKET": BUCKET, "RECORDS_KEY_ARN": key_arn, "MODEL_PACKAGE_GROUP": GROUP}.items():
            monkeypatch.setenv(name, value)
        yield client


def evidenced(sagemaker: Any, registry: MotoRegistry) -> str:
    package = register_evidenced(sagemaker, SESSION.client("s3"), bucket=BUCKET, group=GROUP)
    registry.metrics[package] = dict(METRICS)
    return package


def test_promote_writes_release_json_and_reports_the_commit(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, registry)
    approve(sagemaker, SESSION.client("s3"), BUCKET, package, execution_id=EXECUTION_ID)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_action_executions(codepipeline, RUNS)
    expect_success(codepipeline)
    codecommit.stubber.add_client_error("get_branch", service_error_code="BranchDoesNotExistException")
    codecommit.stubber.add_response("put_file", {"commitId": "c1", "blobId": "b", "treeId": "t"})
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)

    with codepipeline.stubber, codecommit.stubber:
        outcome = promote.handler(job_event(promotion_parameters(package)), LambdaContext())

    assert outcome["succeeded"]
    assert codepipeline.reported_message() == f"Promoted {package} to demo-prod@main in commit c1"
    release = json.loads(codecommit.last("PutFile")["fileContent"])
    assert {key: release[key] for key in ("model_package_arn", "source_commit", "metrics", "approved_by")} == {
        "model_package_arn": package,
        "source_commit": COMMIT,
        "metrics": METRICS,
        "approved_by": APPROVER,
    }
    assert release["promoted_by"] == PROMOTER


def test_promote_refuses_a_package_without_an_approval_record(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    registry = MotoRegistry()
    package = evidenced(sagemaker, registry)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_failure(codepipeline)
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)

    with codepipeline.stubber:
        outcome = promote.handler(job_event(promotion_parameters(package)), LambdaContext())

    assert not outcome["succeeded"]
    assert codepipeline.reported_message() == (
        f"{package} has no approval record (s3://{BUCKET}/approvals/{GROUP}/1/model.json); nothing was promoted"
    )
    assert codecommit.sent == []


def test_promote_without_a_release_repository_says_which_setting(monkeypatch: pytest.MonkeyPatch, sagemaker: Any):
    monkeypatch.delenv("RELEASE_REPOSITORY")
    codepipeline = stubbed("codepipeline")
    expect_failure(codepipeline)
    wire_handler(monkeypatch, promote, MotoRegistry(), codepipeline=codepipeline.client)

    with codepipeline.stubber:
        promote.handler(job_event(promotion_parameters("arn:x")), LambdaContext())

    assert codepipeline.reported_message() == "environment variable RELEASE_REPOSITORY is not set"


def test_a_caller_naming_the_model_approval_as_the_promotion_approval_commits_nothing(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    """Invoked directly with the promotion approval named as the model's (approved), Promote once committed
    release.json before anyone decided the promotion, and the genuine Promote was then refused for good."""
    registry = MotoRegistry()
    package = evidenced(sagemaker, registry)
    approve(sagemaker, SESSION.client("s3"), BUCKET, package, execution_id=EXECUTION_ID)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_action_executions(codepipeline, RUNS[:1])  # the model approval only: nobody decided the promotion
    expect_failure(codepipeline)
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)
    parameters = promotion_parameters(package) | {
        "pipeline_name": PIPELINE,
        "approval_stage": "Approval",
        "approval_action": "Approval",
        "promotion_approval_stage": "Approval",
        "promotion_approval_action": "Approval",
    }
    with codepipeline.stubber, codecommit.stubber:
        outcome = promote.handler(job_event(parameters), LambdaContext())
    assert not outcome["succeeded"] and codecommit.sent == []
    assert codepipeline.reported_message() == (
        f"approval action PromoteApproval/PromoteApproval of {PIPELINE} execution {EXECUTION_ID} has not run; "
        "the model package was left unchanged"
    )


# --- forwarding along a chain (dev -> staging -> prod) -----------------------------------------------------------

STAGING_RUNS = [
    approval_run("Succeeded", updated_by=APPROVER, action="ApproveRelease"),
    approval_run("Succeeded", updated_by=PROMOTER, stage="PromoteApproval", action="PromoteApproval"),
]


def forward_parameters() -> dict[str, str]:
    return {
        "release_repository": "demo-staging",
        "release_commit": "feedface0123",
        "pipeline_execution_id": EXECUTION_ID,
    }


def deployed_release(package: str) -> bytes:
    manifest = ReleaseManifest(
        model_package_arn=package,
        source_commit="0123abcd",
        metrics=METRICS,
        approved_by=APPROVER,
        promoted_by="arn:aws:sts::123456789012:assumed-role/ReleaseManager/carol",
        pipeline_execution_id="dev-execution",
        promoted_at="2026-01-01T10:00:00+00:00",
        model_sha256="a" * 64,
        evaluation_sha256="b" * 64,
        tooling_sha256="c" * 64,
    )
    return manifest.to_json().encode()


def expect_release_file(codecommit: Any, package: str) -> None:
    codecommit.stubber.add_response(
        "get_file",
        {
            "commitId": "feedface0123",
            "blobId": "b",
            "filePath": "release.json",
            "fileMode": "NORMAL",
            "fileSize": 1,
            "fileContent": deployed_release(package),
        },
        {"repositoryName": "demo-staging", "commitSpecifier": "feedface0123", "filePath": "release.json"},
    )


def test_staging_forwards_the_release_it_deployed(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    monkeypatch.setenv("APPROVAL_ACTION", "ApproveRelease")  # a release pipeline's first approval
    registry = MotoRegistry()
    package = registry.register(sagemaker, "Approved", METRICS)
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_release_file(codecommit, package)
    expect_action_executions(codepipeline, STAGING_RUNS)
    expect_action_executions(codepipeline, STAGING_RUNS)
    expect_success(codepipeline)
    codecommit.stubber.add_response("get_branch", {"branch": {"branchName": "main", "commitId": "p1"}})
    codecommit.stubber.add_response("put_file", {"commitId": "c2", "blobId": "b", "treeId": "t"})
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)

    with codepipeline.stubber, codecommit.stubber:
        outcome = promote.handler(job_event(forward_parameters()), LambdaContext())

    assert outcome["succeeded"], codepipeline.reported_message()
    assert codepipeline.reported_message() == (
        f"Promoted {package} from demo-staging@feedface0123 to demo-prod@main in commit c2"
    )
    release = json.loads(codecommit.last("PutFile")["fileContent"])
    assert (release["model_package_arn"], release["source_commit"], release["metrics"]) == (
        package,
        "0123abcd",
        METRICS,
    )
    # the origin's claims travel unchanged (prod checks them against dev's records); the forwarding is a hop
    assert (release["approved_by"], release["promoted_by"], release["pipeline_execution_id"]) == (
        APPROVER,
        "arn:aws:sts::123456789012:assumed-role/ReleaseManager/carol",
        "dev-execution",
    )
    (hop,) = release["forwarded_by"]
    assert (hop["repository"], hop["release_approved_by"], hop["forwarded_by"], hop["pipeline_execution_id"]) == (
        "demo-staging",
        APPROVER,
        PROMOTER,
        EXECUTION_ID,
    )
    read_back = ReleaseManifest.from_json(codecommit.last("PutFile")["fileContent"].decode())
    assert read_back.forwarded_by[0].forwarded_by == PROMOTER  # what prod's deploy reads
    # what prod's release approver reads: the last forwarding too
    assert (
        f"forwarded from demo-staging by {PROMOTER.rsplit('/', 1)[-1]})" in codecommit.last("PutFile")["commitMessage"]
    )


def refused_forwarding(monkeypatch: pytest.MonkeyPatch, registry: MotoRegistry, package: str) -> str:
    """Run a forwarding that must fail after reading release.json; the failure message reported."""
    monkeypatch.setenv("APPROVAL_ACTION", "ApproveRelease")
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_release_file(codecommit, package)
    expect_failure(codepipeline)
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)
    with codepipeline.stubber, codecommit.stubber:
        outcome = promote.handler(job_event(forward_parameters()), LambdaContext())
    assert not outcome["succeeded"]
    assert [name for name, _ in codecommit.sent] == ["GetFile"]  # nothing committed
    return codepipeline.reported_message()


def test_staging_refuses_to_forward_a_package_no_longer_approved(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    registry = MotoRegistry()
    package = registry.register(sagemaker, "Rejected", METRICS)
    message = refused_forwarding(monkeypatch, registry, package)
    assert message == f"{package} is Rejected; only an Approved package is promoted"


def test_staging_refuses_to_forward_a_package_rolled_back_there(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    registry = MotoRegistry()
    package = registry.register(sagemaker, "Approved", METRICS)
    uri = dev_marks().mark(package, at="2026-01-01T11:00:00+00:00", endpoint_name="demo-staging-endpoint", reason="op")
    message = refused_forwarding(monkeypatch, registry, package)
    assert message == f"{package} was rolled back ({uri}); it is not promoted"


def test_a_mark_that_cannot_be_read_stops_the_promotion(monkeypatch: pytest.MonkeyPatch, sagemaker: Any) -> None:
    """Fail closed: Promote treats an unreadable rolled-back mark as a mark."""
    registry = MotoRegistry()
    package = registry.register(sagemaker, "Approved", METRICS)
    monkeypatch.setenv("RECORDS_BUCKET", "no-such-bucket")
    message = refused_forwarding(monkeypatch, registry, package)
    assert message.startswith(f"cannot read the rolled-back marks of {package} (s3://no-such-bucket/rolled-back/")


def test_dev_refuses_to_promote_a_package_rolled_back_meanwhile(
    monkeypatch: pytest.MonkeyPatch, sagemaker: Any
) -> None:
    """Rolled back in dev while PromoteApproval waited: the Promote action stops."""
    registry = MotoRegistry()
    package = evidenced(sagemaker, registry)
    approve(sagemaker, SESSION.client("s3"), BUCKET, package, execution_id=EXECUTION_ID)
    dev_marks().mark(package, at="2026-01-01T11:00:00+00:00", endpoint_name="demo-dev-endpoint", reason="x")
    codepipeline, codecommit = stubbed("codepipeline"), stubbed("codecommit")
    expect_failure(codepipeline)
    wire_handler(monkeypatch, promote, registry, codepipeline=codepipeline.client, codecommit=codecommit.client)
    with codepipeline.stubber:
        outcome = promote.handler(job_event(promotion_parameters(package)), LambdaContext())
    assert not outcome["succeeded"] and codecommit.sent == []
    assert codepipeline.reported_message().startswith(f"{package} was rolled back")
