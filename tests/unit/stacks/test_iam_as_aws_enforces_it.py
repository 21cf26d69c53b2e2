"""The IAM evaluation the suite runs every principal's calls through (testbed/iam_*.py): it decides as AWS
does, fails closed on what it cannot evaluate, and catches what the stacks got wrong before (prod's roles scoped to
prod's own package names while prod serves dev's packages; S3's 403 for a missing key), including the calls served
by the CodePipeline and CodeCommit doubles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rehearsal.pipeline_double import CodeCommitDouble, CodePipelineDouble
from safedeploy.guardrails.rolled_back import OverrideRefused, RolledBackMarks, package_prefix
from safedeploy.naming import ROLE_TAG, Function, Naming
from safedeploy.s3_objects import object_exists
from safedeploy.write_once import CLEARED_SUFFIX, MARK_SUFFIX, OVERRIDE_SUFFIX
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.iam_eval import ACCOUNT, AccessDecision, Authorizer, IamEvaluationError, PolicyWorld, Principal, Request
from testbed.iam_requests import Call, needed

DEV, PROD = Naming("my-mlops", "dev"), Naming("my-mlops", "prod")
DEV_PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{DEV.model_package_group}/7"
BUCKETS = {
    f"/my-mlops/{env}/{kind}-bucket": f"my-mlops-{env}-{name}"
    for env in ("dev", "prod")
    for kind, name in (("artifacts", "artifacts"), ("drift", "drift-work"))
}
ROLE = "AWS::IAM::Role"
KEYS = {f"/my-mlops/{env}/kms-key-arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{env}-key" for env in ("dev", "prod")}


@pytest.fixture(scope="module")
def stages(cdk_context: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return iam_world.synthesized_stages(cdk_context)


@pytest.fixture(scope="module")
def templates(stages: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [template for stage in stages.values() for template in stage]


@pytest.fixture(scope="module")
def world(templates: list[dict[str, Any]]) -> PolicyWorld:
    return PolicyWorld(templates, REGION, bindings={**BUCKETS, **KEYS})


def decide(world: PolicyWorld, principal: str, service: str, operation: str, **params: Any) -> list[str]:
    """The denials of one call by `principal`: empty when AWS would allow it."""
    authorizer = iam_enforcement.authorizer_from([world])
    denials = []
    for need in needed(Call(service, operation, params, REGION, ACCOUNT, world)):
        decision = authorizer.decide(Request(need.principal or principal, need.action, need.resource, need.context))
        if not decision.allowed:
            denials.append(f"{need.action} {need.resource}: {decision.reason}")
    return denials


def prod_readers(world: PolicyWorld) -> dict[str, str]:
    return {
        "drift check": iam_world.lambda_role(world, PROD, Function.DRIFT_CHECK),
        "gateway task": iam_world.gateway_task_role(world, PROD),
        "deploy build": iam_world.codebuild_role(world, PROD, "deploy"),
    }


# --- item 2: prod's roles reach the packages prod serves, and only those --------------------------------------------


def test_prod_roles_read_the_dev_package_prod_serves_and_no_other_group(world: PolicyWorld) -> None:
    for who, role in prod_readers(world).items():
        assert decide(world, role, "sagemaker", "DescribeModelPackage", ModelPackageName=DEV_PACKAGE) == [], who
        for other in ("my-mlops-prod-models", "my-mlops-dev-models-copy", "my-mlops-dev-other"):
            foreign = DEV_PACKAGE.replace(DEV.model_package_group, other)
            assert decide(world, role, "sagemaker", "DescribeModelPackage", ModelPackageName=foreign), (who, other)


def test_prod_traffic_shifter_marks_dev_packages_in_its_own_bucket_and_tags_nothing(world: PolicyWorld) -> None:
    shifter = iam_world.lambda_role(world, PROD, Function.TRAFFIC_SHIFTER)
    mark = f"{package_prefix(DEV_PACKAGE)}20260301T120000Z.mark.json"
    bucket = BUCKETS["/my-mlops/prod/artifacts-bucket"]
    assert decide(world, shifter, "s3", "PutObject", Bucket=bucket, Key=mark, IfNoneMatch="*") == []
    assert decide(world, shifter, "s3", "PutObject", Bucket=bucket, Key=mark)  # never replaces one
    tags = [{"Key": "safedeploy:rolled-back", "Value": "x"}]
    assert decide(world, shifter, "sagemaker", "AddTags", ResourceArn=DEV_PACKAGE, Tags=tags)


def _scoped_as_before(stages: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The templates with prod's package grants as they stood: `model-package/<prod's prefix>-*`."""
    old = json.dumps(stages[PROD.prefix]).replace(
        f"model-package/{DEV.model_package_group}/*", f"model-package/{PROD.prefix}-*"
    )
    return [*stages[DEV.prefix], *json.loads(old)]


def test_the_evaluation_fails_the_old_scoping_of_prod_roles(stages: dict[str, list[dict[str, Any]]]) -> None:
    world = PolicyWorld(_scoped_as_before(stages), REGION, bindings={**BUCKETS, **KEYS})
    for who, role in prod_readers(world).items():
        denied = decide(world, role, "sagemaker", "DescribeModelPackage", ModelPackageName=DEV_PACKAGE)
        assert denied == [f"sagemaker:DescribeModelPackage {DEV_PACKAGE}: no policy allows it (implicit deny)"], who


@contextmanager
def _enforcing(world: PolicyWorld, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PolicyWorld]:
    with in_process_aws(monkeypatch):
        iam_enforcement.enforce([world], directory)
        try:
            yield world
        finally:
            iam_enforcement.stop_enforcing()


@pytest.fixture
def enforced(world: PolicyWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PolicyWorld]:
    with _enforcing(world, tmp_path, monkeypatch) as enforced:
        yield enforced


@pytest.fixture
def old_scoping(
    stages: dict[str, list[dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PolicyWorld]:
    world = PolicyWorld(_scoped_as_before(stages), REGION, bindings={**BUCKETS, **KEYS})
    with _enforcing(world, tmp_path, monkeypatch) as enforced:
        yield enforced


def _dev_package(sm: Any) -> str:
    sm.create_model_package_group(ModelPackageGroupName=DEV.model_package_group)
    return sm.create_model_package(
        ModelPackageGroupName=DEV.model_package_group,
        InferenceSpecification={
            "Containers": [{"Image": "123.dkr.ecr.ap-northeast-2.amazonaws.com/x:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def test_a_call_the_old_templates_deny_fails_where_it_is_made(old_scoping: PolicyWorld) -> None:
    sm = SESSION.client("sagemaker")
    package = _dev_package(sm)  # made by the test itself (no principal): not evaluated
    with (
        iam_enforcement.expected_denials() as denials,
        iam_enforcement.acting_as(iam_world.lambda_role(old_scoping, PROD, Function.DRIFT_CHECK)),
        pytest.raises(sm.exceptions.ClientError, match="AccessDenied"),
    ):
        sm.describe_model_package(ModelPackageName=package)
    assert [denial.operation for denial in denials] == ["DescribeModelPackage"]
    assert "my-mlops-prod-drift-check sagemaker:DescribeModelPackage" in str(denials[0])


def test_the_same_call_passes_under_the_templates_as_they_are(enforced: PolicyWorld) -> None:
    sm = SESSION.client("sagemaker")
    package = _dev_package(sm)
    with iam_enforcement.acting_as(iam_world.lambda_role(enforced, PROD, Function.DRIFT_CHECK)):
        assert sm.describe_model_package(ModelPackageName=package)["ModelPackageArn"] == package


# --- item 5: S3's 403 for a missing key, and reads that do not depend on it ----------------------------------------


def test_a_missing_key_read_without_list_permission_gets_403_as_in_aws(enforced: PolicyWorld) -> None:
    s3 = SESSION.client("s3")
    bucket = BUCKETS["/my-mlops/dev/drift-bucket"]  # the drift check's state is in the drift bucket
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = f"drift/{DEV.endpoint}/state.json"
    with iam_enforcement.acting_as(iam_world.lambda_role(enforced, DEV, Function.DRIFT_CHECK)):
        with iam_enforcement.expected_denials() as denials, pytest.raises(s3.exceptions.ClientError, match="403"):
            s3.get_object(Bucket=bucket, Key=key)
        assert "S3 answers 403 AccessDenied, not 404" in str(denials[0])
        assert object_exists(s3, bucket, key) is False  # a prefix listing the role may make: no denial


# --- failing closed -----------------------------------------------------------------------------------------------


def test_an_operation_without_a_mapping_is_denied(world: PolicyWorld) -> None:
    role = iam_world.lambda_role(world, DEV, Function.DRIFT_CHECK)
    (denial,) = decide_through_hook(world, role, "sagemaker", "CreateHyperParameterTuningJob")
    assert "no IAM mapping for sagemaker CreateHyperParameterTuningJob" in denial


def decide_through_hook(world: PolicyWorld, principal: str, service: str, operation: str) -> list[str]:
    reason = iam_enforcement._decide(
        iam_enforcement.authorizer_from([world]), principal, Call(service, operation, {}, REGION, ACCOUNT, world)
    )
    return [] if reason is None else [reason]


def _world_with(statement: dict[str, Any]) -> tuple[PolicyWorld, str]:
    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "probe", "Policies": [
        {"PolicyName": "p", "PolicyDocument": {"Statement": [statement]}}
    ]}}  # fmt: skip
    world = PolicyWorld([{"Resources": {"Probe": role}}], REGION)
    return world, world.role(role_name="probe").arn


def test_an_unknown_condition_operator_or_key_fails_instead_of_passing() -> None:
    grant = {"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": "*"}
    for condition in (
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"StringEquals": {"aws:ResourceTag/team": "ml"}},  # a key the request does not say it knows
    ):
        world, role = _world_with({**grant, "Condition": condition})
        authorizer = iam_enforcement.authorizer_from([world])
        with pytest.raises(IamEvaluationError):
            authorizer.decide(Request(role, "sagemaker:DescribeEndpoint", "arn:aws:sagemaker:x:1:endpoint/e", {}))


def test_an_explicit_deny_wins_and_a_permission_boundary_must_allow_too() -> None:
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"}
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "probe",
        "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [allow, deny]}}],
        "PermissionsBoundary": {"Ref": "Boundary"},
    }}  # fmt: skip
    boundary = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/public/*"}
    ]}}}  # fmt: skip
    world = PolicyWorld([{"Resources": {"Probe": role, "Boundary": boundary}}], REGION)
    authorizer = iam_enforcement.authorizer_from([world])
    arn = world.role(role_name="probe").arn

    def may(key: str) -> bool:
        return authorizer.decide(Request(arn, "s3:GetObject", f"arn:aws:s3:::b/{key}", {})).allowed

    assert (may("public/a"), may("private/a"), may("secret/a")) == (True, False, False)


# --- rolled-back marks: the project's roles mark; an override or a clearing takes an operator (#20) ---------------


def _rolled_back_records(package: str) -> dict[str, str]:
    stem = f"{package_prefix(package)}20260301T120000Z"
    return {"mark": stem + MARK_SUFFIX, "override": stem + OVERRIDE_SUFFIX, "clearing": stem + CLEARED_SUFFIX}


def test_the_marking_roles_may_mark_but_neither_override_nor_clear_and_the_operator_may(world: PolicyWorld) -> None:
    records = _rolled_back_records(DEV_PACKAGE)
    for env in (DEV, PROD):
        bucket = BUCKETS[f"/my-mlops/{env.env}/artifacts-bucket"]
        markers = {
            "deploy build": iam_world.codebuild_role(world, env, "deploy"),
            "traffic shifter": iam_world.lambda_role(world, env, Function.TRAFFIC_SHIFTER),
        }
        for who, role in markers.items():
            assert _put(world, role, bucket, records["mark"]) == [], (env.env, who)
            for record in ("override", "clearing"):
                assert _put(world, role, bucket, records[record]), (env.env, who, record)
        for record in ("mark", "override", "clearing"):
            assert _put(world, iam_enforcement.OPERATOR, bucket, records[record]) == [], (env.env, record)


def _put(world: PolicyWorld, principal: str, bucket: str, key: str) -> list[str]:
    return decide(world, principal, "s3", "PutObject", Bucket=bucket, Key=key, IfNoneMatch="*")


def _put_by(world: PolicyWorld, principal: Principal, bucket: str, key: str) -> AccessDecision:
    """`principal` as if its own policies allowed everything: what the bucket policy alone decides."""
    unrestricted = Principal(principal.arn, [], unrestricted=True, tags=principal.tags)
    context = {"s3:if-none-match": ["*"], "s3:ObjectCreationOperation": ["true"], "s3:x-amz-acl": None}
    request = Request(principal.arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", context)
    return Authorizer([world], {principal.arn: unrestricted}).decide(request)


def test_the_bucket_denies_overrides_and_clearings_to_every_role_of_the_project_by_name_and_by_tag(
    world: PolicyWorld, templates: list[dict[str, Any]]
) -> None:
    """Whatever a role's own policies grant, of any environment, and even under a name CloudFormation truncated off
    the project's prefix (its tag still denies); a role that is neither (an operator's) is not denied."""
    roles = [world._principal(template, logical_id) for template, logical_id, _ in world._templates_with(ROLE)]
    assert len(roles) > 20
    records = _rolled_back_records(DEV_PACKAGE)
    for bucket in (BUCKETS["/my-mlops/dev/artifacts-bucket"], BUCKETS["/my-mlops/prod/artifacts-bucket"]):
        for role in roles:
            assert role.tags.get(ROLE_TAG) == DEV.project, role.arn
            off_prefix = Principal(role.arn.replace(":role/", ":role/Truncated-"), [], tags=role.tags)
            for record in ("override", "clearing"):
                for principal in (role, off_prefix):
                    decision = _put_by(world, principal, bucket, records[record])
                    assert decision.reason == "explicit Deny in the resource policy", (principal.arn, record)
            assert _put_by(world, role, bucket, records["mark"]).allowed, role.arn
        untagged = Principal(f"arn:aws:iam::{ACCOUNT}:role/Truncated-x", [])
        assert _put_by(world, untagged, bucket, records["clearing"]).allowed


def test_a_build_role_passing_the_override_is_refused_by_the_bucket_in_one_line(enforced: PolicyWorld) -> None:
    s3 = SESSION.client("s3")
    bucket = BUCKETS["/my-mlops/dev/artifacts-bucket"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    marks = RolledBackMarks(s3, bucket)
    at = "2026-03-01T12:00:00+00:00"
    with iam_enforcement.acting_as(iam_world.codebuild_role(enforced, DEV, "deploy")):
        marks.mark(DEV_PACKAGE, at=at, endpoint_name=DEV.endpoint, reason="auto-rollback")
        mark = marks.mark_of(DEV_PACKAGE)
        assert mark is not None
        with iam_enforcement.expected_denials() as denials, pytest.raises(OverrideRefused, match="needs operator"):
            marks.override(DEV_PACKAGE, mark, at=at, endpoint_name=DEV.endpoint)
    assert [denial.operation for denial in denials] == ["PutObject"]
    with iam_enforcement.acting_as(iam_enforcement.OPERATOR):
        marks.override(DEV_PACKAGE, mark, at=at, endpoint_name=DEV.endpoint)
        marks.clear(mark, at=at, endpoint_name=DEV.endpoint)
        assert marks.mark_of(DEV_PACKAGE) is None


# --- the doubles of CodePipeline and CodeCommit ----------------------------------------------------------------------


def test_the_pipeline_doubles_decide_each_call_as_iam_would(world: PolicyWorld, tmp_path: Path) -> None:
    """CodePipeline's job and action-execution APIs and CodeCommit are doubles, not botocore: each call they serve is
    decided for the acting principal, and a grant the templates forget is denied where the handler calls."""
    sync, promote = (iam_world.lambda_role(world, DEV, name) for name in (Function.APPROVAL_SYNC, Function.PROMOTE))
    pipeline, repository = CodePipelineDouble(DEV.pipeline), CodeCommitDouble(PROD.prefix, tmp_path)
    executions = pipeline.get_paginator("list_action_executions")

    def list_executions() -> None:
        list(executions.paginate(pipelineName=DEV.pipeline, filter={"pipelineExecutionId": "e"}))

    def commit() -> None:
        repository.put_file(repositoryName=PROD.prefix, filePath="release.json", fileContent=b"{}", branchName="main")

    with iam_enforcement.policies_in_force([world], tmp_path):
        with iam_enforcement.acting_as(sync):
            list_executions()
            pipeline.put_job_success_result(jobId="job")
        with iam_enforcement.acting_as(promote):
            list_executions()
            commit()
            repository.get_branch(repositoryName=PROD.prefix, branchName="main")
    for role, action, call in (
        (sync, "codepipeline:ListActionExecutions", list_executions),
        (promote, "codecommit:PutFile", commit),
    ):
        forgotten = iam_world.without_action(world, role, action)
        with (
            iam_enforcement.policies_in_force([forgotten], tmp_path),
            iam_enforcement.expected_denials() as denials,
            iam_enforcement.acting_as(role),
            pytest.raises(ClientError, match="AccessDenied"),
        ):
            call()
        assert len(denials) == 1 and f"{role} {action} on " in denials[0].reason, denials


# --- KMS used through DynamoDB and S3 --------------------------------------------------------------------------------


def test_an_item_read_needs_the_tables_key_through_dynamodb(world: PolicyWorld) -> None:
    """The gateway's key lookup: its table is under a customer managed key, so the read is also a kms:Decrypt by the
    task role through DynamoDB, which a role without that grant is denied."""
    gateway = iam_world.gateway_task_role(world, DEV)
    lookup = {"TableName": DEV.resource("gateway-api-keys"), "Key": {"key_hash": {"S": "x"}}}
    asked = needed(Call("dynamodb", "GetItem", lookup, REGION, ACCOUNT, world))
    assert [(n.action, n.context["kms:ViaService"]) for n in asked if n.action.startswith("kms:")] == [
        ("kms:Decrypt", [f"dynamodb.{REGION}.amazonaws.com"])
    ]
    assert decide(world, gateway, "dynamodb", "GetItem", **lookup) == []
    forgotten = iam_world.without_action(world, gateway, "kms:Decrypt")
    (denied,) = decide(forgotten, gateway, "dynamodb", "GetItem", **lookup)
    assert denied.startswith("kms:Decrypt arn:aws:kms:") and denied.endswith("no identity policy allows it")


def test_s3_uses_the_bucket_default_key_when_a_write_names_none(world: PolicyWorld) -> None:
    bucket, key = BUCKETS["/my-mlops/dev/artifacts-bucket"], "approvals/g/1/model.json"
    (write, data_key) = needed(Call("s3", "PutObject", {"Bucket": bucket, "Key": key}, REGION, ACCOUNT, world))
    assert (write.action, data_key.action, data_key.resource) == (
        "s3:PutObject", "kms:GenerateDataKey", KEYS["/my-mlops/dev/kms-key-arn"]
    )  # fmt: skip
    # The artifacts bucket uses an S3 Bucket Key: the encryption context is the bucket, not the object.
    assert data_key.context["kms:EncryptionContext:aws:s3:arn"] == [f"arn:aws:s3:::{bucket}"]
    named = {"Bucket": bucket, "Key": key, "SSEKMSKeyId": "arn:aws:kms:ap-northeast-2:123456789012:key/other"}
    assert needed(Call("s3", "PutObject", named, REGION, ACCOUNT, world))[1].resource == named["SSEKMSKeyId"]


# --- the Deploy role's endpoint scaling: SageMaker variants' instance counts, no other scalable target -------------


def test_the_deploy_role_scales_sagemaker_variant_counts_and_nothing_else(world: PolicyWorld) -> None:
    """Narrowed as far as AWS allows (checkov CKV_AWS_111 fixed, not baselined): a scalable target's ARN ends in a
    generated id, so the writes are conditioned on its service namespace and scalable dimension."""
    for env in (DEV, PROD):
        role = iam_world.codebuild_role(world, env, "deploy")
        variant = {"ResourceId": f"endpoint/{env.endpoint}/variant/AllTraffic"}
        sagemaker = {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
        ecs = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
        other_dimension = {**sagemaker, "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency"}
        policy = {"PolicyName": "p"}
        for operation, extra in (
            ("RegisterScalableTarget", {"MinCapacity": 1, "MaxCapacity": 2}),
            ("PutScalingPolicy", policy),
            ("DeleteScalingPolicy", policy),
            ("DeregisterScalableTarget", {}),
        ):
            call = {**variant, **extra}
            assert decide(world, role, "application-autoscaling", operation, **call, **sagemaker) == [], operation
            assert decide(world, role, "application-autoscaling", operation, **call, **ecs), operation
            assert decide(world, role, "application-autoscaling", operation, **call, **other_dimension), operation
        assert (
            decide(world, role, "application-autoscaling", "DescribeScalableTargets", ServiceNamespace="sagemaker")
            == []
        )
