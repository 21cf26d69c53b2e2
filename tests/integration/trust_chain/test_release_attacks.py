"""The release trust chain against the attacks it exists for, on a moto server in prod's real source layout.

Each attack ends with one refusal line, deploys nothing and loses nothing; the promoted package reaches prod only
through dev's approval records, and prod serves its own verified copy of the artifact.

Every build runs as its Deploy project's role and the approval and promotion records are written as ApprovalSync's
and Promote's roles, each call decided against project `demo`'s templates; registering packages and what the attacks
forge (a foreign group's approval, a replaced artifact) are the test's own calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import lambdas.approval_sync.handler as approval_sync
from rehearsal.pipeline_double import APPROVER, CodePipelineDouble
from safedeploy.build_steps.tooling import bundle_bytes
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.naming import Naming
from safedeploy.trust.approval_record import RecordStore
from safedeploy.trust.release_manifest import ReleaseManifest
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.evidence import PROMOTER, approve, promote_record, register_evidenced
from testbed.iam_eval import PolicyWorld
from testbed.lambda_fakes import EXECUTION_ID, LambdaContext, job_event
from testbed.moto_sagemaker import queue_invocation_results
from tests.support.two_environments import (
    PROJECT,
    ROOT,
    Environment,
    bindings,
    dev_deploy,
    policy_world,
    prod_deploy,
    provision,
)

pytestmark = pytest.mark.integration

TOOLING = bundle_bytes(ROOT)
INFERENCE = {
    "Containers": [{"Image": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/xgboost:1.7-1"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@dataclass
class Chain:
    server: MotoServer
    dev: Environment
    prod: Environment
    checkout: Path
    release_repository: Path
    sm: Any
    s3: Any
    iam: PolicyWorld

    def register(self, *, group: str | None = None, **evidence: Any) -> str:
        return register_evidenced(
            self.sm, self.s3, bucket=self.dev.bucket, group=group or self.dev.group, tooling=TOOLING, **evidence
        )

    def approved_release(self) -> tuple[str, ReleaseManifest]:
        """A package a person approved and promoted in dev, and the release.json Promote commits for it."""
        package = self.register()
        with iam_enforcement.as_lambda_function(f"{PROJECT}-dev-approval-sync"):
            record = approve(self.sm, self.s3, self.dev.bucket, package, approver=APPROVER)
        with iam_enforcement.as_lambda_function(f"{PROJECT}-dev-promote"):
            promotion = promote_record(self.sm, self.s3, self.dev.bucket, package)
        manifest = ReleaseManifest(
            model_package_arn=package,
            source_commit=record.evidence.source_commit,
            metrics={"auc": 0.91},
            approved_by=record.approver,
            promoted_by=promotion.approver,
            pipeline_execution_id=record.pipeline_execution_id,
            promoted_at="2026-03-01T12:00:00+00:00",
            model_sha256=record.evidence.model_sha256,
            evaluation_sha256=record.evidence.evaluation_sha256,
            tooling_sha256=record.evidence.tooling_sha256,
        )
        return package, manifest

    def commit_release(self, manifest: ReleaseManifest | dict[str, Any]) -> None:
        text = manifest.to_json() if isinstance(manifest, ReleaseManifest) else json.dumps(manifest)
        (self.release_repository / "release.json").write_text(text)

    def endpoints(self) -> list[str]:
        return [endpoint["EndpointName"] for endpoint in self.sm.list_endpoints()["Endpoints"]]


@pytest.fixture
def chain(server: MotoServer, tmp_path: Path) -> Iterator[Chain]:
    """dev and prod of project `demo`, every build's and function's call decided against that project's templates."""
    checkout, release_repository = tmp_path / "dev-checkout", tmp_path / "prod-repository"
    checkout.mkdir()
    release_repository.mkdir()
    dev, prod = provision(server, "dev"), provision(server, "prod")
    iam = policy_world(bindings(dev, prod))
    with iam_enforcement.policies_in_force([iam], tmp_path):
        sm, s3 = server.client("sagemaker"), server.client("s3")
        yield Chain(server, dev, prod, checkout, release_repository, sm, s3, iam)


def test_prod_deploys_the_promoted_package_from_its_own_verified_copy(chain: Chain) -> None:
    package, manifest = chain.approved_release()
    chain.commit_release(manifest)
    queue_invocation_results(REGION, "0.42")

    build = prod_deploy(chain.server, chain.release_repository, chain.dev)

    assert build.exit_code == 0, build.stderr
    assert f"deploy tooling {manifest.tooling_sha256[:12]} of commit {manifest.source_commit[:12]} verified" in (
        build.stdout
    )
    assert f"verified {package}: approved by {APPROVER}" in build.stdout
    endpoint = chain.sm.describe_endpoint(EndpointName=chain.prod.endpoint)
    served = chain.sm.describe_model(ModelName=endpoint["EndpointConfigName"])["PrimaryContainer"]["ModelDataUrl"]
    assert served == f"s3://{chain.prod.bucket}/models/promoted/{chain.dev.group}/1/model.tar.gz"
    # Dev's teardown takes dev's bucket away; what prod serves stays, because it is prod's.
    for version in chain.s3.list_object_versions(Bucket=chain.dev.bucket).get("Versions", []):
        chain.s3.delete_object(Bucket=chain.dev.bucket, Key=version["Key"], VersionId=version["VersionId"])
    copy = chain.s3.get_object(Bucket=chain.prod.bucket, Key=served.split("/", 3)[3])["Body"].read()
    assert copy == b"model bytes"


def test_a_self_approved_package_is_refused_in_dev(chain: Chain) -> None:
    """A build that registers its own package as Approved: IAM denies it to the Train build's role (moto does not),
    and a package registered so anyway is refused for want of an approval record."""
    train = iam_world.codebuild_role(chain.iam, Naming(PROJECT, "dev"), "train")
    approved = {"ModelPackageGroupName": chain.dev.group, "ModelApprovalStatus": "Approved"}
    with (
        iam_enforcement.expected_denials() as denials,
        iam_enforcement.acting_as(train),
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        chain.sm.create_model_package(**approved, InferenceSpecification=INFERENCE)
    assert [denial.operation for denial in denials] == ["CreateModelPackage"]
    assert "{'sagemaker:ModelApprovalStatus': ['Approved']}" in denials[0].reason
    package = chain.register(status="Approved")

    build = dev_deploy(chain.server, chain.checkout, package)

    assert build.exit_code == 3
    assert build.refusal == (
        f"safedeploy deploy: refused: model package {package} has no approval record "
        f"(s3://{chain.dev.bucket}/approvals/{chain.dev.group}/1/model.json): only a person's decision in the "
        "pipeline's Approval makes a package deployable, whatever its registry status; nothing was deployed"
    )
    assert chain.endpoints() == []
    with iam_enforcement.acting_as(train):  # what the condition leaves the Train role: registering for review
        chain.sm.create_model_package(**approved | {"ModelApprovalStatus": "PendingManualApproval"},
                                      InferenceSpecification=INFERENCE)  # fmt: skip


def test_a_package_of_another_group_is_refused(chain: Chain) -> None:
    foreign = chain.register(group="demo-other-models")
    approve(chain.sm, chain.s3, chain.dev.bucket, foreign)

    build = dev_deploy(chain.server, chain.checkout, foreign)

    assert build.exit_code == 3
    assert build.refusal == (
        f"safedeploy deploy: refused: model package {foreign} belongs to model package group demo-other-models, "
        f"not {chain.dev.group}; nothing was deployed"
    )
    assert chain.endpoints() == []


def test_a_forged_approver_in_release_json_is_refused(chain: Chain) -> None:
    _, manifest = chain.approved_release()
    forged = json.loads(manifest.to_json()) | {"approved_by": "arn:aws:iam::123456789012:user/mallory"}
    chain.commit_release(forged)

    build = prod_deploy(chain.server, chain.release_repository, chain.dev)

    assert build.exit_code == 3
    assert build.refusal.startswith(
        "safedeploy deploy: refused: release.json approved_by 'arn:aws:iam::123456789012:user/mallory' does not "
        f"match the approval records' '{APPROVER}'"
    )
    assert build.refusal.endswith("nothing was deployed")
    assert chain.endpoints() == []
    assert chain.s3.list_objects_v2(Bucket=chain.prod.bucket).get("KeyCount", 0) == 0


def test_a_forged_promoter_is_refused(chain: Chain) -> None:
    _, manifest = chain.approved_release()
    chain.commit_release(json.loads(manifest.to_json()) | {"promoted_by": APPROVER})

    build = prod_deploy(chain.server, chain.release_repository, chain.dev)

    assert build.exit_code == 3
    assert f"release.json promoted_by '{APPROVER}' does not match the approval records' '{PROMOTER}'" in build.refusal


def test_a_tampered_artifact_is_refused_in_dev_and_in_prod(chain: Chain) -> None:
    package, manifest = chain.approved_release()
    model_url = chain.sm.describe_model_package(ModelPackageName=package)["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"
    ]
    bucket, key = model_url.removeprefix("s3://").split("/", 1)
    chain.s3.put_object(Bucket=bucket, Key=key, Body=b"swapped after approval")
    chain.commit_release(manifest)

    in_dev = dev_deploy(chain.server, chain.checkout, package)
    in_prod = prod_deploy(chain.server, chain.release_repository, chain.dev)

    assert in_dev.exit_code == in_prod.exit_code == 3
    for build in (in_dev, in_prod):
        assert f"model artifact {model_url} has sha256 " in build.refusal
        assert f"not the {manifest.model_sha256[:16]} recorded at registration and approval" in build.refusal
    assert chain.endpoints() == []
    assert chain.s3.list_objects_v2(Bucket=chain.prod.bucket).get("KeyCount", 0) == 0
    versions = chain.s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 2  # the approved bytes are still there, under their version


def test_dev_refuses_a_package_served_from_outside_its_write_once_models_prefix(chain: Chain) -> None:
    """Approved and deployed from the pipeline's mutable artifacts before: the object could be swapped after the hash
    check, and SageMaker downloads it again whenever an instance starts (autoscaling, replacement)."""
    package = chain.register(model_prefix="pipelines/models")
    with iam_enforcement.as_lambda_function(f"{PROJECT}-dev-approval-sync"):
        approve(chain.sm, chain.s3, chain.dev.bucket, package, approver=APPROVER)
    model_url = chain.sm.describe_model_package(ModelPackageName=package)["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"
    ]

    build = dev_deploy(chain.server, chain.checkout, package)

    assert build.exit_code == 3
    assert build.refusal == (
        f"safedeploy deploy: refused: model artifact {model_url} is not under s3://{chain.dev.bucket}/models/, this "
        "environment's write-once prefix: bytes elsewhere can be replaced after they are verified and are downloaded "
        "again whenever an instance starts; nothing was deployed"
    )
    assert chain.endpoints() == []


def test_tampered_tooling_never_runs_in_prod(chain: Chain) -> None:
    package, manifest = chain.approved_release()
    tooling_uri = chain.sm.describe_model_package(ModelPackageName=package)["CustomerMetadataProperties"]["tooling_uri"]
    bucket, key = tooling_uri.removeprefix("s3://").split("/", 1)
    chain.s3.put_object(Bucket=bucket, Key=key, Body=b"#!/bin/sh\necho pwned")
    chain.commit_release(manifest)

    build = prod_deploy(chain.server, chain.release_repository, chain.dev)

    assert build.exit_code == 3
    assert build.refusal.startswith(f"safedeploy release gate: refused: tooling bundle {tooling_uri} has sha256 ")
    assert chain.endpoints() == []


def test_a_release_json_pushed_to_dev_never_reaches_prod(chain: Chain) -> None:
    """The old wiring read release.json (and the buildspec) from dev's branch; prod's Deploy now reads neither.

    Fed to prod's Deploy anyway (as if it were prod's repository), a release.json naming a package nobody approved
    is refused before any tooling runs.
    """
    unreviewed = chain.register(status="Approved")
    (chain.checkout / "release.json").write_text(
        json.dumps({"model_package_arn": unreviewed, "tooling_sha256": "0" * 64, "approved_by": "alice"})
    )

    build = prod_deploy(chain.server, chain.checkout, chain.dev)

    assert build.exit_code == 3
    assert build.refusal == (
        f"safedeploy release gate: refused: model package {unreviewed} has no approval record "
        f"(s3://{chain.dev.bucket}/approvals/{chain.dev.group}/1/model.json); nothing was deployed"
    )
    assert chain.endpoints() == []


def test_a_direct_approval_sync_invocation_launders_nothing(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone with lambda:InvokeFunction names a never-reviewed package and a real, approved execution."""
    reviewed, never_reviewed = chain.register(), chain.register()
    pipeline = CodePipelineDouble("demo-dev-pipeline")
    pipeline.registered(EXECUTION_ID, reviewed)
    pipeline.approve(EXECUTION_ID, "Approval", "ApproveModel", "looked at the metrics")
    for name, value in {
        "RECORDS_BUCKET": chain.dev.bucket,
        "RECORDS_KEY_ARN": chain.dev.key_arn,
        "MODEL_PACKAGE_GROUP": chain.dev.group,
        "PIPELINE_NAME": "demo-dev-pipeline",
        "APPROVAL_STAGE": "Approval",
        "APPROVAL_ACTION": "ApproveModel",
    }.items():
        monkeypatch.setenv(name, value)
    clients = {"codepipeline": pipeline, "sagemaker": chain.sm, "s3": chain.s3}
    monkeypatch.setattr(approval_sync, "clients", AwsClients(clients))
    parameters = {"model_package_arn": never_reviewed, "pipeline_execution_id": EXECUTION_ID}

    function = f"{PROJECT}-dev-approval-sync"
    iam_enforcement.attacker_invokes(function)
    with iam_enforcement.as_lambda_function(function):
        outcome = approval_sync.handler(job_event(parameters), LambdaContext())

    assert not outcome["succeeded"]
    assert outcome["message"] == (
        f"{never_reviewed} is not the model package execution {EXECUTION_ID} registered ({reviewed}); "
        "no approval was recorded"
    )
    assert RecordStore(chain.s3, chain.dev.bucket).read(never_reviewed, "model") is None
    assert chain.sm.describe_model_package(ModelPackageName=never_reviewed)["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )
    build = dev_deploy(chain.server, chain.checkout, never_reviewed)
    assert build.exit_code == 3 and "has no approval record" in build.refusal
