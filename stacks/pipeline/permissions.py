"""Grants only the release pipeline needs; the generic ones come from `infra.iam_role`."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from infra import iam_role
from infra.grants import Grant
from safedeploy.guardrails import autoscaling
from safedeploy.naming import Naming

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
# IAM's condition key on the approval status a CreateModelPackage or UpdateModelPackage request sets (Service
# Authorization Reference, Amazon SageMaker): how a build is kept from registering or marking a package Approved.
APPROVAL_STATUS_KEY = "sagemaker:ModelApprovalStatus"
PENDING = "PendingManualApproval"
DECISIONS = ("Approved", "Rejected")
RECORDS_PREFIX = "approvals"


def pass_role_to_sagemaker(role: iam.IRole) -> Grant:
    """Hand the SageMaker execution role to SageMaker jobs and models, and to no other service."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE}},
        )
    )


def sdk_role_check(role: iam.IRole) -> Grant:
    """The SageMaker SDK's `ModelTrainer` asks IAM whether the execution role may write its default bucket
    (iam:SimulatePrincipalPolicy) to choose where it stages the job's code; it handles a denial, but a denied call on
    every training run is an AccessDenied event for the account's monitoring to chase. Allowed on that one role:
    simulating reveals nothing the role's own policy does not state."""
    return Grant.of(iam.PolicyStatement(actions=["iam:SimulatePrincipalPolicy"], resources=[role.role_arn]))


def sdk_bucket_check(bucket: s3.IBucket, prefix: str) -> Grant:
    """The SageMaker SDK's check of the bucket a pipeline session writes to (`Session.default_bucket`): it lists the
    account's buckets for the bucket's creation date (a denial is tolerated, but recorded as AccessDenied on every
    run), then the bucket under the session's key prefix, which it needs: denied, it stops before uploading the
    jobs' code. Only those two requests are allowed."""
    return Grant.of(
        iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]),
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringEquals": {"s3:prefix": prefix}},
        ),
        reason="s3:ListAllMyBuckets has no resource type (ListBuckets lists the account's bucket names); the "
        "SageMaker SDK calls it to check the bucket its pipeline session writes to.",
    )


def pipeline_arn(stack: Stack, pipeline_name: str) -> str:
    """Built from the name: a reference to the pipeline would make the functions it invokes depend on it (cycle)."""
    return stack.format_arn(service="codepipeline", resource=pipeline_name)


def read_action_executions(stack: Stack, pipeline_name: str) -> Grant:
    """Who decided an approval is recorded only in the pipeline's action executions."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["codepipeline:ListActionExecutions"], resources=[pipeline_arn(stack, pipeline_name)]
        )
    )


def commit_release(stack: Stack, repository_name: str) -> Grant:
    """Commit one file on top of a branch of one repository (GetBranch for the parent, PutFile for the commit)."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["codecommit:GetBranch", "codecommit:PutFile"],
            resources=[stack.format_arn(service="codecommit", resource=repository_name)],
        )
    )


def read_release(stack: Stack, repository_name: str) -> Grant:
    """Read one file of one repository at a commit: the release.json an environment deployed."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["codecommit:GetFile"], resources=[stack.format_arn(service="codecommit", resource=repository_name)]
        )
    )


def list_model_packages() -> Grant:
    return iam_role.unscoped(
        ["sagemaker:ListModelPackages"], "sagemaker:ListModelPackages has no resource-level permissions ('*')."
    )


# Application Auto Scaling (Service Authorization Reference): the writes take the `scalable-target` resource type,
# whose ARN ends in an id Application Auto Scaling generates at registration (never the endpoint's name), and the
# condition keys `application-autoscaling:service-namespace` and `:scalable-dimension`; the Describe actions take no
# resource type (`*`). So the writes are granted on this account and region's scalable targets, for SageMaker variant
# instance counts only, and the reads on `*`.
ENDPOINT_SCALING_WRITES = (
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
)
ENDPOINT_SCALING_READS = (
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
)
SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


def scalable_targets(stack: Stack) -> str:
    return stack.format_arn(
        service="application-autoscaling",
        resource="scalable-target",
        resource_name="*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def endpoint_scaling(stack: Stack, endpoint_name: str) -> Grant:
    """What registering the endpoint's variant for target tracking needs (SageMaker's auto scaling prerequisites):
    the scaling calls, the target-tracking alarms Application Auto Scaling creates under the caller's identity, and
    the one service-linked role it uses to scale."""
    return Grant.of(
        iam.PolicyStatement(
            actions=list(ENDPOINT_SCALING_WRITES),
            resources=[scalable_targets(stack)],
            conditions={
                "StringEquals": {
                    "application-autoscaling:service-namespace": autoscaling.NAMESPACE,
                    "application-autoscaling:scalable-dimension": autoscaling.DIMENSION,
                }
            },
        ),
        iam.PolicyStatement(actions=list(ENDPOINT_SCALING_READS), resources=["*"]),
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
            resources=[iam_role.colon_arn(stack, "cloudwatch", "alarm", f"TargetTracking-endpoint/{endpoint_name}/*")],
        ),
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name=f"aws-service-role/{SCALING_SERVICE}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                )
            ],
            conditions={"StringLike": {"iam:AWSServiceName": SCALING_SERVICE}},
        ),
        reason="Endpoint autoscaling: application-autoscaling DescribeScalableTargets and DescribeScalingPolicies "
        "take no resource type (*); the writes (Register/DeregisterScalableTarget, Put/DeleteScalingPolicy) "
        "name scalable-target/*, since a target's ARN ends in an id generated at registration, narrowed to "
        "SageMaker variant instance counts by the service-namespace and scalable-dimension condition keys; the "
        "target-tracking alarms Application Auto Scaling creates are named "
        f"TargetTracking-endpoint/{endpoint_name}/*.",
    )


def register_pending_only(stack: Stack, naming: Naming) -> Grant:
    """Register packages only as PendingManualApproval, and never change a package's approval afterwards."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["sagemaker:CreateModelPackage"],
            resources=iam_role.sagemaker_resources(stack, naming, ["model-package", "model-package-group"]),
            conditions={"StringEquals": {APPROVAL_STATUS_KEY: PENDING}},
        ),
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            actions=["sagemaker:UpdateModelPackage"],
            resources=iam_role.sagemaker_resources(stack, naming, ["model-package"]),
        ),
        reason=f"sagemaker:CreateModelPackage only on model packages and groups named {naming.prefix}-*, and only "
        f"as {PENDING}.",
    )


def record_decisions(stack: Stack, naming: Naming) -> Grant:
    """ApprovalSync's registry write: an approval status of Approved or Rejected, on this environment's packages."""
    decide = iam_role.model_packages(stack, naming.model_package_group, ["sagemaker:UpdateModelPackage"])
    for statement in decide.statements:
        statement.add_condition("StringEquals", {APPROVAL_STATUS_KEY: list(DECISIONS)})
    return decide


def write_records(bucket: s3.IBucket, decision: str) -> list[Grant]:
    """Read every approval record, write the `<decision>.json` ones (write-once by If-None-Match in the library)."""
    return [
        iam_role.s3_objects(bucket, [RECORDS_PREFIX]),
        iam_role.s3_keys(bucket, [f"{RECORDS_PREFIX}/*/{decision}.json"], ["s3:PutObject"]).because(
            f"Approval records are written only as {RECORDS_PREFIX}/<group>/<version>/{decision}.json."
        ),
    ]
